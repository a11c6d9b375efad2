"""Helpers for the dashboard tests: a scene with known events, its rules, and a replay feed.

``scene`` is quiet low hum (the tiny model hears ``low``), then a loud high tone
(``high``), then hum again. ``RULES`` fires ``high_tone`` on the tone. ``ReplayFeed``
is a third :class:`~monitor.tui.feed.Feed`: it posts a fixed list of messages, so
snapshots of the screen are the same on every run (no wall clock, fixed alert ids).
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from monitor.alerts import Alert, Severity, WindowRef
from monitor.tui.feed import Post
from monitor.tui.messages import (
    FeedEnded,
    FeedInfo,
    HealthChanged,
    HealthReport,
    Heard,
    ModeChanged,
    RuleInfo,
    RulesChanged,
    RuleState,
    SourceHealth,
)
from signals import tone, write

RATE = 22050
HUM_HZ, TONE_HZ = 150.0, 6000.0

RULES = textwrap.dedent("""\
    version: 1
    mode: home
    rules:
      - name: high_tone
        sound: high
        threshold: 0.6
        persistence: 2 of 3
        severity: critical
        cooldown: 1m
        clear_after: 3s
      - name: hum_at_night
        sound: low
        threshold: 0.9
        modes: [night]
        severity: info
""")


def scene(path: Path, hum: float = 6.0, loud: float = 8.0, after: float = 4.0) -> Path:
    """Hum for ``hum`` s, the high tone for ``loud`` s, hum for ``after`` s (22.05 kHz mono)."""
    parts = [tone(HUM_HZ, hum, RATE, 0.05), tone(TONE_HZ, loud, RATE, 0.3), tone(HUM_HZ, after, RATE, 0.05)]
    return write(path, np.concatenate(parts), RATE)


def rules_file(path: Path) -> Path:
    path.write_text(RULES)
    return path


T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC: fixed, so the alert's time column never changes


def replay_messages() -> list[object]:
    """A fixed stretch of dashboard traffic: 24 windows, one alert, rule states, mode, health."""
    labels = ("glass_breaking", "speech", "dog_bark", "smoke_alarm", "background", "footsteps")
    out: list[object] = [
        FeedInfo("replay.wav (in process, hop 0.5 s)", "replay-model",
                 {"glass_breaking": 0.6, "speech": 0.5, "smoke_alarm": 0.7},
                 ("glass_breaking", "speech", "smoke_alarm"),
                 (RuleInfo("glass_break", "any mode"), RuleInfo("human_while_away", "away"),
                  RuleInfo("smoke_alarm", "any mode"), RuleInfo("baby_cry_night", "night 22:00-06:00"))),
        ModeChanged("away", "override"),
    ]
    for i in range(24):
        phase = i / 23
        scores = {label: round(0.05 + 0.9 * max(0.0, np.sin(phase * np.pi * (k + 1) / 2)) / (k + 1), 3)
                  for k, label in enumerate(labels)}
        bands = np.array([[-45 + 70 * np.exp(-((b - (i % 16)) ** 2) / 6) + 5 * c for c in range(2)]
                          for b in range(16)], dtype=np.float32)
        out.append(Heard("replay.wav", 5.0 + 0.5 * i, -60 + 40 * np.sin(phase * np.pi), scores, False, bands))
    out.append(RulesChanged((RuleState("glass_break", "active"), RuleState("human_while_away", "pending", "1 of 2"),
                             RuleState("smoke_alarm", "cooling down", "42s left"), RuleState("baby_cry_night", "idle"))))
    out.append(alert("a1", "human_while_away", "speech", 0.71, Severity.WARNING, T0 + 3))
    out.append(alert("a2", "glass_break", "glass_breaking", 0.93, Severity.CRITICAL, T0 + 65))
    out.append(HealthChanged(HealthReport((SourceHealth("replay.wav", True, "ok"),), cpu=0.07, mqtt="off",
                                          model="replay-model")))
    return out


def alert(alert_id: str, rule: str, label: str, score: float, severity: Severity, wall_time: float,
          clip: str | None = None):
    from monitor.tui.messages import AlertRaised

    return AlertRaised(Alert(
        rule=rule, label=label, labels=(label,), score=score, severity=severity, mode="away", source="replay.wav",
        onset=10.0, stream_time=12.0, wall_time=wall_time, message=f"{rule}: {label} heard on replay.wav",
        windows=(WindowRef(10.0, 15.0, score),), clip_path=clip, id=alert_id))


async def until(pilot, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until ``condition()`` holds (a failure names the timeout)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.05)


class ReplayFeed:
    """Posts ``messages`` at start; mode requests are answered like an engine would, and recorded."""

    def __init__(self, messages: list[object], end: str | None = None) -> None:
        self.messages = messages
        self.end = end
        self.requested: list[str] = []
        self.stopped = False
        self._post: Post | None = None

    def start(self, post: Post) -> None:
        self._post = post
        for message in self.messages:
            post(message)  # type: ignore[arg-type]
        if self.end is not None:
            post(FeedEnded(self.end))

    def set_mode(self, mode: str) -> None:
        self.requested.append(mode)
        assert self._post is not None
        self._post(ModeChanged(mode, "override"))

    def stop(self) -> None:
        self.stopped = True
