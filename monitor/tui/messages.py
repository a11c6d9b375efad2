"""The updates a feed delivers to the dashboard, as Textual messages.

Takes nothing; gives one :class:`~textual.message.Message` subclass per kind of
update. Feeds post them from their own threads (``App.post_message`` is
thread-safe); the app hands their contents to the widgets. Every field is plain
data, so a feed over MQTT and a feed running the pipeline look the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from textual.message import Message

from monitor.alerts import Alert, AlertCleared


@dataclass(frozen=True)
class RuleInfo:
    """What the dashboard shows about a rule besides its state: when it applies."""

    name: str
    when: str  # e.g. "any mode", "away", "night 22:00-06:00"


@dataclass(frozen=True)
class RuleState:
    """A rule's live state: ``idle``, ``pending``, ``active`` or ``cooling down`` plus detail."""

    rule: str
    state: str
    detail: str = ""
    enabled: bool = True  # False: the rule does not apply in the current mode or hour


@dataclass(frozen=True)
class SourceHealth:
    source: str
    ok: bool
    status: str


class FeedInfo(Message):
    """Sent once when a feed starts (and again if it learns more, e.g. the daemon's rules)."""

    def __init__(
        self,
        origin: str,
        model: str | None,
        thresholds: dict[str, float],
        watched: tuple[str, ...],
        rules: tuple[RuleInfo, ...],
        note: str = "",
        spectrum: bool = True,
    ) -> None:
        super().__init__()
        self.origin = origin  # "file.wav (in process)", "mqtt 127.0.0.1:1883 sound-monitor/box"
        self.model = model
        self.thresholds = thresholds  # label -> lowest rule threshold on it
        self.watched = watched  # labels the rules listen for (sparkline history)
        self.rules = rules
        self.note = note  # e.g. why there are no rules or no spectrogram
        self.spectrum = spectrum  # False: Heard never carries band energies


class Heard(Message):
    """One analysis window: level, scores (all labels, or the top few when attached), band energies."""

    def __init__(
        self,
        source: str,
        end: float,
        level_dbfs: float,
        scores: dict[str, float],
        skipped: bool,
        bands: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.end = end  # seconds of stream time (or of daemon uptime when attached)
        self.level_dbfs = level_dbfs
        self.scores = scores
        self.skipped = skipped
        self.bands = bands  # (n_bands, n_columns) dB, lowest band first; None: not available


class RulesChanged(Message):
    def __init__(self, states: tuple[RuleState, ...]) -> None:
        super().__init__()
        self.states = states


class AlertRaised(Message):
    def __init__(self, alert: Alert) -> None:
        super().__init__()
        self.alert = alert


class AlertEnded(Message):
    def __init__(self, cleared: AlertCleared) -> None:
        super().__init__()
        self.cleared = cleared


class ModeChanged(Message):
    def __init__(self, mode: str, reason: str = "") -> None:
        super().__init__()
        self.mode = mode
        self.reason = reason  # "held", "override", "schedule", "default" or "" (not known)


@dataclass(frozen=True)
class HealthReport:
    sources: tuple[SourceHealth, ...] = ()
    cpu: float | None = None  # pipeline CPU time / wall time (1.0 = one core busy)
    mqtt: str = "off"  # "off", "connected", "connecting", "lost: ..."
    backlog: int | None = None  # alerts not yet acknowledged by the broker
    model: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


class HealthChanged(Message):
    def __init__(self, health: HealthReport) -> None:
        super().__init__()
        self.health = health


class FeedEnded(Message):
    """The feed will send nothing more (end of file, or an error it cannot recover from)."""

    def __init__(self, reason: str, error: bool = False) -> None:
        super().__init__()
        self.reason = reason
        self.error = error
