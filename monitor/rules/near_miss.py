"""Why a recording raised nothing: the rule that came closest to firing, and what it lacked.

Takes an :class:`~monitor.rules.engine.Engine` (its rules, modes and hours) and, window by
window, the predictions of one recording; gives, if some window scored at or above an
alerting rule's threshold, one line for the rule closest to firing, e.g.
``smoke_alarm: 1 of the 3 windows it needs (of 4)`` or ``human_while_away: heard
(speech 0.91) but the rule is off in home mode``. Compound rules are not judged: their parts are.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from monitor.predictions import Prediction
from monitor.rules.engine import Engine
from monitor.rules.schema import SimpleRule


@dataclass
class _Tracker:
    """One rule's best progress over the recording."""

    rule: SimpleRule
    recent: deque[bool] = field(default_factory=deque)  # evidence in the last 'of' windows
    run_first_end: float | None = None  # end of the first window of the current run of evidence
    best: float = 0.0  # windows (N of M) or seconds (for: D) of the best stretch
    loudest: tuple[str, float] | None = None  # the best label and score that crossed the threshold
    off_mode: str | None = None  # a crossing window came while the rule was off (mode or hours)
    too_quiet: bool = False  # a crossing window was below the rule's level gate

    def observe(self, p: Prediction, applies: bool, mode: str) -> None:
        crossed = {label: p.scores[label] for label in self.rule.labels
                   if p.scores.get(label, 0.0) >= self.rule.thresholds[label]}  # fmt: skip
        evidence = bool(crossed) and applies and p.level_dbfs >= self.rule.min_level_dbfs
        if crossed:
            label = max(crossed, key=crossed.__getitem__)
            if self.loudest is None or crossed[label] > self.loudest[1]:
                self.loudest = (label, crossed[label])
            self.off_mode = self.off_mode or (None if applies else mode)
            self.too_quiet = self.too_quiet or (applies and not evidence)
        persistence = self.rule.persistence
        if persistence.duration is not None:
            self.run_first_end = (self.run_first_end if self.run_first_end is not None else p.end) if evidence else None
            if self.run_first_end is not None:
                self.best = max(self.best, p.end - self.run_first_end)
            return
        self.recent.append(evidence)
        if len(self.recent) > persistence.of:
            self.recent.popleft()
        self.best = max(self.best, float(sum(self.recent)))

    def closeness(self) -> float:
        """How far towards firing the best stretch got, 0..1."""
        persistence = self.rule.persistence
        need = persistence.duration if persistence.duration is not None else persistence.hits
        return min(1.0, self.best / need) if need else 1.0

    def reason(self) -> str:
        assert self.loudest is not None
        name, persistence = self.rule.name, self.rule.persistence
        heard = f"heard ({self.loudest[0]} {self.loudest[1]:.2f})"
        if persistence.duration is not None and self.best > 0:
            return f"{name}: {heard} for {self.best:.1f} s of the {persistence.duration:g} s it needs"
        if persistence.duration is None and self.best > 0:
            return f"{name}: {int(self.best)} of the {persistence.hits} windows it needs (of {persistence.of})"
        if self.off_mode is not None:
            return f"{name}: {heard} but the rule is off then ({self.off_mode} mode, or outside its hours)"
        if self.too_quiet:
            return f"{name}: {heard} but quieter than its level gate ({self.rule.min_level_dbfs:g} dBFS)"
        return f"{name}: {heard} in too few windows"


class NearMiss:
    """Watches one recording's predictions; :meth:`closest` explains the rule nearest to firing."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._trackers = [_Tracker(rule) for rule in engine.rules.rules
                          if isinstance(rule, SimpleRule) and rule.timing.alert]  # fmt: skip

    def observe(self, prediction: Prediction) -> None:
        wall_end = prediction.wall_time + (prediction.end - prediction.start)
        mode = self._engine.mode_state(wall_end).mode
        for tracker in self._trackers:
            tracker.observe(prediction, self._engine.applies(tracker.rule, wall_end), mode)

    def closest(self) -> str | None:
        """The closest rule and what it lacked, or None if no window crossed any rule's threshold."""
        crossed = [t for t in self._trackers if t.loudest is not None]
        if not crossed:
            return None
        return max(crossed, key=lambda t: (t.closeness(), t.loudest[1] if t.loudest else 0.0)).reason()
