"""Hot reload: one rules file, one engine, and safe swaps when the file changes.

Takes the rules file path and the loaded model's labels and thresholds; gives a
:class:`RulesHolder` whose :attr:`engine` the pipeline feeds. The daemon calls
:meth:`RulesHolder.reload` on SIGHUP and :meth:`RulesHolder.reload_if_changed`
periodically (file watching belongs to the daemon). A new file is validated in full
(and by the owner's check) before anything changes; if it is invalid the running rules stay and the problems
are returned (and logged). State survives for rules whose definition did not change.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.alerts import AlertCleared
from monitor.rules.engine import Engine
from monitor.rules.loader import load_rules
from monitor.rules.schema import RuleSet
from monitor.rules.yamlsafe import RulesError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    message: str  # what happened, one line per problem on failure
    cleared: list[AlertCleared] = field(default_factory=list)  # alerts of removed or changed rules


class RulesHolder:
    def __init__(self, path: Path, labels: Sequence[str], thresholds: Mapping[str, float] | None = None,
                 check: Callable[[RuleSet], None] | None = None) -> None:
        """Load the file (raises :class:`RulesError` if invalid: at start-up there is nothing to fall back on).
        ``check`` is the owner's own test of a valid file (e.g. that its MQTT topics are free); it raises
        RulesError for rules the owner cannot use, which then never replace the running ones."""
        self.path = path
        self._labels, self._thresholds = tuple(labels), dict(thresholds or {})
        self._check = check
        self._lock = threading.Lock()
        self._signature = self._stat()
        self.engine = Engine(self._load())

    def _load(self) -> RuleSet:
        rules = load_rules(self.path, self._labels, self._thresholds)
        if self._check is not None:
            self._check(rules)
        return rules

    def set_labels(self, labels: Sequence[str], thresholds: Mapping[str, float] | None = None) -> None:
        """The labels (and default thresholds) the next reload validates against: learnt sounds came or went."""
        with self._lock:
            self._labels, self._thresholds = tuple(labels), dict(thresholds or {})

    def reload(self) -> ReloadResult:
        with self._lock:
            signature = self._stat()
            try:
                rules = self._load()
            except RulesError as exc:
                self._signature = signature  # do not retry the same broken file on every poll
                log.error("rules not reloaded, keeping the running rules:\n%s", exc)
                return ReloadResult(False, str(exc))
            self._signature = signature
            old = self.engine.rules
            if rules == old:
                return ReloadResult(True, f"{self.path}: unchanged")
            cleared = self.engine.swap(rules)
            kept = sum(1 for r in rules.rules if old.get(r.name) == r)
            message = f"{self.path}: reloaded {len(rules.rules)} rules ({kept} unchanged kept their state)"
            log.info(message)
            return ReloadResult(True, message, cleared)

    def reload_if_changed(self) -> ReloadResult | None:
        """Reload when the file's modification time, size or inode changed since the last load."""
        if self._stat() == self._signature:
            return None
        return self.reload()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino
