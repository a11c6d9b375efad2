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
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.private import write_private
from monitor.rules.schema import MODES
from monitor.smallfile import FileRefused, read_small_file

log = logging.getLogger(__name__)

MODE_FILENAME = "mode.json"
MAX_BYTES = 4096  # the file holds one short JSON object
SLACK_SECONDS = 86400.0


@dataclass(frozen=True)
class StoredMode:
    mode: str
    set_at: float  # Unix time of the request


class ModeStore:
    def __init__(self, state_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = state_dir / MODE_FILENAME
        self._clock = clock

    def load(self) -> StoredMode | None:
        """The stored request, or None if there is none or it cannot be read (then said in the log)."""
        try:
            data = json.loads(read_small_file(self.path, MAX_BYTES).decode("utf-8"))
            stored = StoredMode(str(data["mode"]), float(data["set_at"]))
        except FileRefused as exc:
            if not exc.missing:
                log.warning("ignoring the stored mode: %s %s; the configured mode applies", self.path, exc)
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the stored mode in %s (%s); the configured mode applies", self.path, exc)
            return None
        if stored.mode not in MODES:
            log.warning("ignoring the stored mode %r in %s: not one of %s", stored.mode[:40], self.path, ", ".join(MODES))
            return None
        # NaN or a time far off would break the schedule arithmetic; a day of slack allows a clock correction.
        if not (math.isfinite(stored.set_at) and 0 <= stored.set_at <= self._clock() + SLACK_SECONDS):
            log.warning("ignoring the stored mode in %s: set_at %r is not a plausible time; the configured mode "
                        "applies", self.path, stored.set_at)
            return None
        return stored

    def save(self, mode: str, set_at: float) -> None:
        """Replace the stored request atomically (a crash mid-write leaves the old one)."""
        tmp = self.path.with_suffix(".tmp")
        try:
            write_private(tmp, json.dumps({"mode": mode, "set_at": set_at}).encode("utf-8"))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not store the mode in %s (%s); it will not survive a restart", self.path, exc)
