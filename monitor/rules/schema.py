"""The typed rule set: what a validated rules.yaml means.

Takes nothing (the loader builds these); gives frozen dataclasses for rules,
schedules and time windows that the engine runs. Nothing here parses YAML.
Rule definitions compare equal when they mean the same thing (the source line is
left out of comparisons), which is how a reload decides whose state to keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from monitor.alerts import Severity

MODES = ("home", "away", "night")
DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_LEVEL_DBFS = -70.0
DEFAULT_MESSAGE = "{rule}: {label} heard on {source} (score {score:.2f}, {mode} mode)"
# Names a message template may use; nothing else (no attribute access) is allowed.
MESSAGE_FIELDS = ("rule", "label", "labels", "score", "severity", "mode", "source", "time", "onset")


@dataclass(frozen=True)
class TimeWindow:
    """Local time of day ``[start, end)`` in minutes since midnight; ``end < start`` crosses midnight.

    ``days`` are the weekdays (0 = Monday) on which a window *starts*; the part after
    midnight belongs to the day before, so "fri 23:00-06:30" covers Saturday 03:00.
    Local clock times are compared, so on DST changes a window simply follows the clock.
    """

    start: int
    end: int
    days: frozenset[int] = frozenset(range(7))

    def occurrence(self, local: datetime) -> date | None:
        """The date on which the occurrence containing ``local`` started, or None if outside."""
        minute = local.hour * 60 + local.minute
        today = local.date()
        if self.start < self.end:
            inside = self.start <= minute < self.end
            started = today
        elif minute >= self.start:
            inside, started = True, today
        else:
            inside, started = minute < self.end, today - timedelta(days=1)
        return started if inside and started.weekday() in self.days else None

    def contains(self, local: datetime) -> bool:
        return self.occurrence(local) is not None


@dataclass(frozen=True)
class ScheduleEntry:
    mode: str
    window: TimeWindow
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Persistence:
    """How much evidence fires a rule: ``hits`` of the last ``of`` windows, or ``duration`` seconds of
    consecutive detecting windows (measured from the end of the first to the end of the latest)."""

    hits: int = 1
    of: int = 1
    duration: float | None = None

    def describe(self) -> str:
        return f"for {self.duration:g}s" if self.duration is not None else f"{self.hits} of {self.of}"


@dataclass(frozen=True)
class Timing:
    """What every rule has: where and when it applies, how it is announced and how it rests."""

    modes: frozenset[str]
    hours: tuple[TimeWindow, ...]
    cooldown: float
    severity: dict[str, Severity]  # per mode
    message: str
    alert: bool  # False: evidence for compound rules only, raises no alert itself


@dataclass(frozen=True)
class SimpleRule:
    """Fires when the model hears one of ``labels`` above its threshold persistently enough."""

    name: str
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    persistence: Persistence
    clear_after: float
    min_level_dbfs: float
    timing: Timing
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class CompoundRule:
    """Fires when its ``parts`` (other rules) all fire within ``within`` seconds,
    in the listed order when ``ordered`` (``sequence:``), in any order otherwise (``all_of:``)."""

    name: str
    parts: tuple[str, ...]
    ordered: bool
    within: float
    timing: Timing
    line: int = field(default=0, compare=False)


Rule = SimpleRule | CompoundRule


@dataclass(frozen=True)
class RuleSet:
    """All rules of one file, parts before the compound rules that use them."""

    rules: tuple[Rule, ...]
    default_mode: str = "home"
    schedule: tuple[ScheduleEntry, ...] = ()
    timezone: str | None = None  # IANA name; None = the system's local time zone
    path: str = field(default="<rules>", compare=False)
    min_level_dbfs: float = DEFAULT_MIN_LEVEL_DBFS  # the file's gate, for rules that set none

    @property
    def min_gate_dbfs(self) -> float:
        """Windows quieter than this cannot fire any rule, so the pipeline may skip their inference
        (with no rules at all, the file's own gate)."""
        gates = [r.min_level_dbfs for r in self.rules if isinstance(r, SimpleRule)]
        return min(gates) if gates else self.min_level_dbfs

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)
