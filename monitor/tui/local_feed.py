"""A feed that runs the monitor itself: pipeline and rule engine in a worker thread.

Takes an opened audio source, a :class:`~monitor.model.runner.ModelRunner`, a rule
:class:`~monitor.rules.Engine` and a hop; gives the dashboard's messages: every
window (:class:`~monitor.tui.messages.Heard`, with band energies of the newest hop
for the spectrogram strip), every alert and clear, rule states after each window,
the mode, and about once a second the health (source status, pipeline CPU load).
``set_mode`` asks the engine (a request that lasts until the next schedule boundary,
as from MQTT).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time

from monitor.alerts import Alert, AlertCleared
from monitor.audio.source import AudioSource
from monitor.journal import Journal
from monitor.model.runner import ModelRunner
from monitor.pipeline import Pipeline
from monitor.predictions import Prediction
from monitor.rules import MODES, Engine, RuleSet
from monitor.rules.schema import CompoundRule, SimpleRule, TimeWindow
from monitor.tui.feed import Post
from monitor.tui.messages import (
    AlertEnded,
    AlertRaised,
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
from monitor.tui.spectrum import BandColumns
from monitor.tui.widgets import short_source

log = logging.getLogger(__name__)

HEALTH_SECONDS = 1.0


class LocalFeed:
    def __init__(
        self, source: AudioSource, model: ModelRunner, engine: Engine, hop_seconds: float = 1.0, note: str = "",
        journal: Journal | None = None,
    ) -> None:
        """``journal``: where its alerts are kept, as ``run`` keeps them (never owed to a broker:
        the standalone dashboard publishes nothing); closed when the feed ends."""
        self.source = source
        self.journal = journal
        self.model = model
        self.engine = engine
        self.note = note
        gate = engine.min_gate_dbfs
        self.pipeline = Pipeline([source], model, hop_seconds, gate_dbfs=gate if math.isfinite(gate) else None)
        self.hop_seconds = hop_seconds
        self._bands = BandColumns(model.metadata.features)
        self._post: Post | None = None
        self._thread: threading.Thread | None = None
        self._mode_lock = threading.Lock()
        self._last_mode: tuple[str, str] | None = None

    # -- Feed ----------------------------------------------------------------------
    def start(self, post: Post) -> None:
        self._post = post
        self._thread = threading.Thread(target=self._run, name="tui-pipeline", daemon=True)
        self._thread.start()

    def set_mode(self, mode: str) -> None:
        self.engine.set_mode(mode)
        self._post_mode(force=True)
        assert self._post is not None
        self._post(RulesChanged(self._states()))  # which rules apply changes with the mode

    def stop(self) -> None:
        self.pipeline.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    # -- worker thread ---------------------------------------------------------------
    def _run(self) -> None:
        post = self._post
        assert post is not None
        rules = self.engine.rules
        post(FeedInfo(
            origin=f"{short_source(self.source.id)} (in process, hop {self.hop_seconds:g} s)",
            model=self.model.metadata.name,
            thresholds=lowest_thresholds(rules),
            watched=watched_labels(rules),
            rules=tuple(RuleInfo(rule.name, describe_when(rule)) for rule in rules.rules),
            note=self.note,
        ))
        self._post_mode(force=True)
        post(RulesChanged(self._states()))
        cpu0, wall0 = time.thread_time(), time.monotonic()
        last_end: dict[str, float] = {}
        try:
            for prediction in self.pipeline.run():
                since = prediction.end - last_end.get(prediction.source, prediction.start)
                last_end[prediction.source] = prediction.end
                post(self._heard(prediction, since))
                self._post_events(self.engine.process(prediction))
                post(RulesChanged(self._states()))
                self._post_mode()
                if time.monotonic() - wall0 >= HEALTH_SECONDS:
                    cpu = (time.thread_time() - cpu0) / (time.monotonic() - wall0)
                    post(HealthChanged(self._health(cpu)))
                    cpu0, wall0 = time.thread_time(), time.monotonic()
            self._post_events(self.engine.finish(self.source.id))
            post(RulesChanged(self._states()))
            post(HealthChanged(self._health(None)))
            post(FeedEnded(f"{short_source(self.source.id)}: end of input"))
        except Exception as exc:  # the dashboard must say why it went quiet, not die silently
            log.exception("pipeline failed")
            text = str(exc) or type(exc).__name__
            name = short_source(self.source.id)
            post(FeedEnded(text if name in text else f"{name}: {text}", error=True))
        finally:
            if self.journal is not None:
                self.journal.close()

    def _heard(self, prediction: Prediction, seconds: float) -> Heard:
        stream = self.pipeline.streams[prediction.source]
        ring, rate = stream.ring, stream.params.sample_rate
        end = min(ring.end, round(prediction.end * rate))
        start = max(ring.start, end - round(seconds * rate) - self._bands.context_samples)
        bands = self._bands.columns(ring.read(start, end), seconds) if end > start else None
        return Heard(prediction.source, prediction.end, prediction.level_dbfs, dict(prediction.scores),
                     prediction.skipped, bands)

    def _post_events(self, events: list[Alert | AlertCleared]) -> None:
        assert self._post is not None
        for event in events:
            self._journal(event)
            self._post(AlertRaised(event) if isinstance(event, Alert) else AlertEnded(event))

    def _journal(self, event: Alert | AlertCleared) -> None:
        if self.journal is None:
            return
        try:
            if isinstance(event, Alert):
                self.journal.append(event, deliver=False)
            else:
                self.journal.mark_cleared(event.alert_id, event.wall_time)
        except (sqlite3.Error, OSError) as exc:  # a full disk must not stop the dashboard
            log.error("%s not journaled: %s", event, exc)

    def _post_mode(self, force: bool = False) -> None:
        state = self.engine.mode_state()
        with self._mode_lock:
            if not force and (state.mode, state.reason) == self._last_mode:
                return
            self._last_mode = (state.mode, state.reason)
        assert self._post is not None
        self._post(ModeChanged(state.mode, state.reason))

    def _states(self) -> tuple[RuleState, ...]:
        return tuple(RuleState(s.rule, s.state, s.detail, s.enabled) for s in self.engine.status(self.source.id))

    def _health(self, cpu: float | None) -> HealthReport:
        stats = self.source.stats()
        return HealthReport(
            sources=(SourceHealth(self.source.id, stats.ok, stats.status),),
            cpu=cpu,
            mqtt="off",
            model=self.model.metadata.name,
        )


def lowest_thresholds(rules: RuleSet) -> dict[str, float]:
    """Each watched label's lowest threshold over the rules that listen for it."""
    out: dict[str, float] = {}
    for rule in rules.rules:
        if isinstance(rule, SimpleRule):
            for label, threshold in rule.thresholds.items():
                out[label] = min(threshold, out.get(label, threshold))
    return out


def watched_labels(rules: RuleSet) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for rule in rules.rules:
        if isinstance(rule, SimpleRule):
            seen.update(dict.fromkeys(rule.labels))
    return tuple(seen)


def describe_when(rule: SimpleRule | CompoundRule) -> str:
    """The rule's mode and hour conditions in a few characters: 'any mode', 'away', 'night 22:00-06:00'."""
    modes = rule.timing.modes
    text = "any mode" if set(MODES) <= modes else ",".join(m for m in MODES if m in modes)
    hours = " ".join(_window(w) for w in rule.timing.hours)
    return f"{text} {hours}".strip()


def _window(window: TimeWindow) -> str:
    return f"{window.start // 60:02d}:{window.start % 60:02d}-{window.end // 60:02d}:{window.end % 60:02d}"
