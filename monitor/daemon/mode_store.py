"""The mode last set at run time (MQTT, the dashboard), kept across restarts.

Takes the state directory; gives :class:`ModeStore`, whose :meth:`~ModeStore.load`
returns the stored :class:`StoredMode` (or ``None``) and :meth:`~ModeStore.save`
records a new one. Without it a crash or reboot while the house is in away mode would
bring the monitor back in the file's default mode, silently ignoring the people it
should report. The time of the request is kept too, so a schedule boundary that passed
while the daemon was down still ends the request, as it would have live.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from monitor.rules.schema import MODES

log = logging.getLogger(__name__)

MODE_FILENAME = "mode.json"


@dataclass(frozen=True)
class StoredMode:
    mode: str
    set_at: float  # Unix time of the request


class ModeStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / MODE_FILENAME

    def load(self) -> StoredMode | None:
        """The stored request, or None if there is none or it cannot be read (then said in the log)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            stored = StoredMode(str(data["mode"]), float(data["set_at"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the stored mode in %s (%s); the configured mode applies", self.path, exc)
            return None
        if stored.mode not in MODES:
            log.warning("ignoring the stored mode %r in %s: not one of %s", stored.mode, self.path, ", ".join(MODES))
            return None
        return stored

    def save(self, mode: str, set_at: float) -> None:
        """Replace the stored request atomically (a crash mid-write leaves the old one)."""
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps({"mode": mode, "set_at": set_at}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not store the mode in %s (%s); it will not survive a restart", self.path, exc)
