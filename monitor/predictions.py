"""Predictions: what the model heard in one window.

Takes nothing; gives the :class:`Prediction` record that the pipeline produces per
window and that rules, sinks and the dashboard consume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.onset import LevelEnvelope


@dataclass(frozen=True)
class Prediction:
    """Scores for one analysis window of one source.

    ``start``/``end`` are seconds since the source started; ``wall_time`` is the
    Unix time at which the window's first sample was heard. ``scores`` maps every
    model label to a score in [0, 1]; it is empty when inference was skipped
    because the window was below the level gate (``skipped`` is then True).
    ``recording``: the source is a recorded file, whose times are positions in it.
    ``envelope`` is the level of the window's audio frame by frame (where in the window a
    sound began, see :mod:`monitor.onset`); None when the windows come from elsewhere
    (an alert's onset is then its first window's start).
    """

    source: str
    start: float
    end: float
    wall_time: float
    level_dbfs: float
    scores: dict[str, float] = field(default_factory=dict)
    skipped: bool = False
    recording: bool = False
    envelope: LevelEnvelope | None = field(default=None, compare=False, repr=False)

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` highest-scoring labels, best first."""
        return sorted(self.scores.items(), key=lambda kv: kv[1], reverse=True)[:n]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (used by ``classify --json`` and MQTT state)."""
        return {
            "source": self.source,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "wall_time": round(self.wall_time, 3),
            "level_dbfs": round(self.level_dbfs, 1),
            "skipped": self.skipped,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
        }
