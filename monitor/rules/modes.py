"""The current mode (home / away / night) and why it is what it is.

Takes the rule file's default mode and schedule plus explicit requests from the
CLI, MQTT or the TUI; gives the mode in effect at any Unix time.

Precedence, highest first:

1. **held** - ``set(mode, hold=True)`` (``--mode`` on the command line, or a "hold"
   request): stays until another explicit request; the schedule is ignored.
2. **override** - ``set(mode)`` (MQTT, TUI): stays until the next schedule boundary,
   i.e. until the scheduled mode would change by itself (a schedule period starts or
   ends), then the schedule takes over again. With no schedule it behaves like held.
3. **schedule** - the first schedule entry whose period contains the local time.
4. **default** - ``mode:`` in the rules file (``home`` if absent).

The latest explicit request replaces any earlier one; ``resume()`` drops it.
Thread-safe: the engine's lock guards every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo

from monitor.rules.clock import local_time
from monitor.rules.schema import MODES, ScheduleEntry

Slot = tuple[int, date] | None  # (schedule entry index, date the period started); None = outside all


@dataclass(frozen=True)
class ModeState:
    mode: str
    reason: str  # "held", "override", "schedule" or "default"


class ModeController:
    def __init__(self, default: str = "home", schedule: tuple[ScheduleEntry, ...] = (), tz: tzinfo | None = None) -> None:
        self._default, self._schedule, self._tz = default, schedule, tz
        self._explicit: str | None = None
        self._hold = False
        self._slot: Slot = None

    def configure(self, default: str, schedule: tuple[ScheduleEntry, ...], tz: tzinfo | None) -> None:
        """New file settings (reload); an explicit request stays in force."""
        self._default, self._schedule, self._tz = default, schedule, tz

    def set(self, mode: str, now: float, hold: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes are {', '.join(MODES)}")
        self._explicit, self._hold = mode, hold or not self._schedule
        self._slot = self._current_slot(now)

    def resume(self) -> None:
        """Forget explicit requests: the schedule (or default) decides again."""
        self._explicit, self._hold = None, False

    def state(self, now: float) -> ModeState:
        if self._explicit is not None:
            if self._hold:
                return ModeState(self._explicit, "held")
            if self._current_slot(now) == self._slot:
                return ModeState(self._explicit, "override")
            self._explicit = None  # a schedule boundary has passed
        slot = self._current_slot(now)
        if slot is not None:
            return ModeState(self._schedule[slot[0]].mode, "schedule")
        return ModeState(self._default, "default")

    def mode(self, now: float) -> str:
        return self.state(now).mode

    def _current_slot(self, now: float) -> Slot:
        if not self._schedule:
            return None
        local = local_time(now, self._tz)
        for index, entry in enumerate(self._schedule):
            started = entry.window.occurrence(local)
            if started is not None:
                return index, started
        return None
