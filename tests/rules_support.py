"""Helpers for the rule-engine tests: rule sets from YAML text and hand-built predictions."""

from __future__ import annotations

import textwrap

from monitor.alerts import Alert, AlertCleared
from monitor.predictions import Prediction
from monitor.rules import Engine, RuleSet, parse_rules

LABELS = ("glass_breaking", "speech", "scream_or_shout", "footsteps", "dog_bark", "baby_cry",
          "smoke_alarm", "background")
WINDOW = 5.0
T0 = 1_780_000_000.0  # an arbitrary Unix time; schedule tests choose their own


def ruleset(text: str, labels: tuple[str, ...] = LABELS, thresholds: dict[str, float] | None = None) -> RuleSet:
    return parse_rules(textwrap.dedent(text), "test.yaml", labels, thresholds)


def engine(text: str, **kwargs: object) -> Engine:
    return Engine(ruleset(text, **kwargs))  # type: ignore[arg-type]


def pred(start: float, scores: dict[str, float] | None = None, *, level: float = -30.0, source: str = "mic",
         t0: float = T0, skipped: bool = False) -> Prediction:
    """A window starting at stream second ``start``; labels not named score 0."""
    full = {label: 0.0 for label in LABELS}
    full.update(scores or {})
    return Prediction(source=source, start=start, end=start + WINDOW, wall_time=t0 + start, level_dbfs=level,
                      scores={} if skipped else full, skipped=skipped)


def run(eng: Engine, windows: list[dict[str, float] | None], hop: float = 1.0, **kwargs: object) -> list[tuple[int, Alert | AlertCleared]]:
    """Feed one window per hop (None = silence); returns (window index, event) pairs."""
    events = []
    for index, scores in enumerate(windows):
        for event in eng.process(pred(index * hop, scores, **kwargs)):  # type: ignore[arg-type]
            events.append((index, event))
    return events


def alerts(events: list[tuple[int, Alert | AlertCleared]]) -> list[tuple[int, Alert]]:
    return [(i, e) for i, e in events if isinstance(e, Alert)]


def clears(events: list[tuple[int, Alert | AlertCleared]]) -> list[tuple[int, AlertCleared]]:
    return [(i, e) for i, e in events if isinstance(e, AlertCleared)]
