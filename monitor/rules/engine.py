"""The rule engine: predictions in, alerts and clears out, for any number of sources.

Takes a validated :class:`~monitor.rules.schema.RuleSet` and a stream of
:class:`~monitor.predictions.Prediction` (from one or several sources, each in its own
stream time); gives :class:`~monitor.alerts.Alert` and
:class:`~monitor.alerts.AlertCleared` records. Keeps one state machine per rule per
source (see :mod:`monitor.rules.state`), the current mode (see
:mod:`monitor.rules.modes`) and per-rule status for the dashboard. Every public
method takes the engine's lock, so the pipeline, the MQTT thread and the TUI may call
it concurrently, and :meth:`swap` replaces the rules atomically.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime

from monitor.alerts import Alert, AlertCleared, WindowRef, position
from monitor.predictions import Prediction
from monitor.rules.clock import local_time, zone
from monitor.rules.message import render
from monitor.rules.modes import ModeController, ModeState
from monitor.rules.schema import CompoundRule, Rule, RuleSet, SimpleRule
from monitor.rules.state import CompoundState, Episode, Evidence, Hit, RuleStatus, SimpleState

Event = Alert | AlertCleared
State = SimpleState | CompoundState


class Engine:
    def __init__(self, rules: RuleSet, modes: ModeController | None = None) -> None:
        self._lock = threading.RLock()
        self._rules = rules
        self._tz = zone(rules.timezone)
        self._modes = modes or ModeController(rules.default_mode, rules.schedule, self._tz)
        self._sources: dict[str, dict[str, State]] = {}

    @property
    def rules(self) -> RuleSet:
        return self._rules

    @property
    def min_gate_dbfs(self) -> float:
        """Windows below this level cannot fire any rule (the pipeline may skip their inference)."""
        return self._rules.min_gate_dbfs

    # -- modes -------------------------------------------------------------------
    def set_mode(self, mode: str, hold: bool = False, now: float | None = None) -> None:
        """Explicit mode request (CLI: ``hold=True``; MQTT/TUI: until the next schedule boundary).
        Raises ValueError for an unknown mode."""
        with self._lock:
            self._modes.set(mode, time.time() if now is None else now, hold)

    def resume_schedule(self) -> None:
        with self._lock:
            self._modes.resume()

    def mode_state(self, now: float | None = None) -> ModeState:
        with self._lock:
            return self._modes.state(time.time() if now is None else now)

    def applies(self, rule: Rule, now: float) -> bool:
        """Whether ``rule`` applies at Unix time ``now``: its modes and hours."""
        with self._lock:
            return _enabled(rule, self._modes.mode(now), local_time(now, self._tz))

    # -- evaluation --------------------------------------------------------------
    def process(self, prediction: Prediction) -> list[Event]:
        """Feed one window; returns the alerts and clears it caused, in order."""
        with self._lock:
            p = prediction
            wall_end = p.wall_time + (p.end - p.start)
            mode = self._modes.mode(wall_end)
            local = local_time(wall_end, self._tz)
            states = self._sources.get(p.source)
            if states is None:
                states = self._sources[p.source] = {r.name: _fresh(r) for r in self._rules.rules}
            events: list[Event] = []
            onsets: dict[str, Evidence] = {}
            for rule in self._rules.rules:  # parts come before the compound rules using them
                state = states[rule.name]
                enabled = _enabled(rule, mode, local)
                if isinstance(state, SimpleState):
                    assert isinstance(rule, SimpleRule)
                    onset, due, ended = state.step(_hit(rule, p) if enabled else None, p.end)
                    self._cleared(events, rule, p.source, ended, p.end, wall_end)
                    if onset is not None:
                        onsets[rule.name] = onset
                    if due is not None:
                        events.append(self._alert(rule, state, due, mode, p, local.tzinfo))
                else:
                    assert isinstance(rule, CompoundRule)
                    in_episode = any(states[part].episode is not None for part in rule.parts)
                    self._cleared(events, rule, p.source, state.update(p.end, in_episode), p.end, wall_end)
                    for part in rule.parts:
                        if part in onsets:
                            combined, due = state.part_onset(part, onsets[part], enabled)
                            if combined is not None:
                                onsets[rule.name] = combined
                                if due:
                                    events.append(self._alert(rule, state, combined, mode, p, local.tzinfo))
            return events

    def finish(self, source: str) -> list[AlertCleared]:
        """The source has ended (end of file, stream closed): clear its alerts and forget its state."""
        with self._lock:
            states = self._sources.pop(source, {})
            events: list[Event] = []
            for state in states.values():
                self._cleared(events, state.rule, source, state.finish(), state.now, time.time())
            return events  # type: ignore[return-value]

    def status(self, source: str | None = None, now: float | None = None) -> list[RuleStatus]:
        """Every rule's state for every source seen so far, or for ``source`` (all idle if it has
        sent nothing yet); ``enabled`` says whether each rule applies at ``now`` (default: the clock)."""
        with self._lock:
            now = time.time() if now is None else now
            mode, local = self._modes.mode(now), local_time(now, self._tz)
            if source is not None and source not in self._sources:
                found = [RuleStatus(r.name, source, "idle", "") for r in self._rules.rules]
            else:
                found = [state.status(seen) for seen, states in self._sources.items() if source in (None, seen)
                         for state in states.values()]
            return [replace(s, enabled=_enabled(self._rules.get(s.rule), mode, local)) for s in found]

    # -- reload ------------------------------------------------------------------
    def swap(self, rules: RuleSet) -> list[AlertCleared]:
        """Replace the rules atomically. Rules whose definition is unchanged keep their state
        (cooldowns, persistence counters, active alerts); alerts of removed or changed rules
        are cleared (returned). Explicit mode requests stay in force."""
        with self._lock:
            cleared: list[Event] = []
            for source, states in self._sources.items():
                kept: dict[str, State] = {}
                for rule in rules.rules:
                    old = states.get(rule.name)
                    if old is not None and old.rule == rule:
                        old.rule = rule  # type: ignore[assignment]
                        kept[rule.name] = old
                    else:
                        kept[rule.name] = _fresh(rule)
                for name, old in states.items():
                    if kept.get(name) is not old:
                        self._cleared(cleared, old.rule, source, old.finish(), old.now, time.time())
                self._sources[source] = kept
            self._rules = rules
            self._tz = zone(rules.timezone)
            self._modes.configure(rules.default_mode, rules.schedule, self._tz)
            return cleared  # type: ignore[return-value]

    # -- helpers -----------------------------------------------------------------
    @staticmethod
    def _cleared(events: list[Event], rule: Rule, source: str, ended: Episode | None,
                 stream_time: float, wall_time: float) -> None:
        if ended is not None and ended.alert_id is not None:
            events.append(AlertCleared(rule.name, source, ended.alert_id, stream_time, wall_time))

    @staticmethod
    def _alert(rule: Rule, state: State, evidence: Evidence, mode: str, p: Prediction, tz: object) -> Alert:
        peaks = evidence.peaks
        severity = rule.timing.severity[mode]
        # Live audio: the local time of the onset. A recording: where in it (its time of day is unknown).
        when = (f"{position(evidence.onset)} into the recording" if p.recording
                else local_time(evidence.wall_time, tz).strftime("%H:%M:%S"))  # type: ignore[arg-type]
        message = render(
            rule.timing.message,
            rule=rule.name, label=evidence.label, labels=", ".join(peaks), score=evidence.score,
            severity=severity.value, mode=mode, source=p.source, time=when, onset=evidence.onset)
        alert = Alert(
            rule=rule.name, label=evidence.label, labels=tuple(peaks), score=evidence.score, severity=severity,
            mode=mode, source=p.source, onset=evidence.onset, stream_time=evidence.stream_time,
            wall_time=evidence.wall_time, message=message, windows=tuple(h.window for h in evidence.hits),
            recording=p.recording)
        state.alerted(alert.id, evidence.stream_time)
        return alert


def _enabled(rule: Rule | None, mode: str, local: datetime) -> bool:
    """Whether ``rule`` applies in ``mode`` at local time ``local``."""
    if rule is None or mode not in rule.timing.modes:
        return False
    return not rule.timing.hours or any(w.contains(local) for w in rule.timing.hours)


def _fresh(rule: Rule) -> State:
    return SimpleState(rule) if isinstance(rule, SimpleRule) else CompoundState(rule)


def _hit(rule: SimpleRule, p: Prediction) -> Hit | None:
    """The window as evidence for ``rule``, or None (skipped, too quiet or below threshold)."""
    if p.skipped or not p.scores or p.level_dbfs < rule.min_level_dbfs:
        return None
    above = {label: p.scores[label] for label in rule.labels
             if label in p.scores and p.scores[label] >= rule.thresholds[label]}
    if not above:
        return None
    return Hit(WindowRef(p.start, p.end, max(above.values())), p.wall_time, above, p.envelope)
