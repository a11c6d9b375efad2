"""Alerts: the unit that the rule engine raises and every sink consumes.

Takes nothing; gives :class:`Alert` (a rule fired) and :class:`AlertCleared`
(the rule's sound has been absent for its clear time). MQTT, the journal, the TUI
and evidence clips all work from these two records.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from enum import Enum


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class WindowRef:
    """One window that contributed to an alert (stream seconds, its score)."""

    start: float
    end: float
    score: float


@dataclass(frozen=True)
class Alert:
    """A rule fired.

    ``onset`` is the stream time (seconds since the source started) at which the sound
    is estimated to have begun, inside the first triggering window (see
    :mod:`monitor.onset`; alerts journaled before that estimate carry that window's
    start); ``windows`` keeps each triggering window's start and end. ``stream_time`` is
    the stream time at which the alert fired (the end of the window that completed the
    rule); ``wall_time`` is the Unix time of the onset (for a ``recording``, about when
    that part was read: a recording has no time of day of its own). ``id`` is unique and
    stable so consumers can drop duplicates.
    """

    rule: str
    label: str
    labels: tuple[str, ...]
    score: float
    severity: Severity
    mode: str
    source: str
    onset: float
    stream_time: float
    wall_time: float
    message: str
    windows: tuple[WindowRef, ...] = ()
    clip_path: str | None = None
    recording: bool = False  # heard in a recorded file: ``onset`` is where, ``wall_time`` when it was read
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict of every field (MQTT payload, journal row, ``--json``)."""
        data = asdict(self)
        data["severity"] = self.severity.value
        data["labels"] = list(self.labels)
        data["windows"] = [asdict(w) for w in self.windows]
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "Alert":
        """Inverse of :meth:`to_json` (the journal, the attached dashboard). Keys that are not
        fields (what MQTT delivery adds: ``replayed``, ``age``, ``stale``) are ignored."""
        known = {f.name for f in dataclass_fields(cls)}
        fields = {key: value for key, value in data.items() if key in known}
        fields["severity"] = Severity(fields["severity"])
        fields["labels"] = tuple(fields["labels"])  # type: ignore[arg-type]
        fields["windows"] = tuple(WindowRef(**w) for w in fields.get("windows", ()))  # type: ignore[union-attr]
        return cls(**fields)  # type: ignore[arg-type]


def position(seconds: float) -> str:
    """A stream time as a position in a recording, ``H:MM:SS``."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@dataclass(frozen=True)
class AlertCleared:
    """A rule that had fired is no longer active: its sound has been absent for its clear time."""

    rule: str
    source: str
    alert_id: str
    stream_time: float
    wall_time: float
