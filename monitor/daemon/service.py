"""The daemon: one configured service that monitors every source until told to stop.

Takes a validated :class:`~monitor.config.schema.Config` and the environment (for
sd_notify and for re-reading the config on SIGHUP); runs one
:class:`~monitor.pipeline.Pipeline` over all sources (one model session, one batch
per round), applies each source's rules to every prediction, records evidence clips,
and sends alerts to the outbox (the journal) and, if configured, the MQTT sink.

Nothing the storage does switches monitoring off: an alert is journaled the moment
it is raised (its clip's path is added when the clip is written), a damaged journal
is moved aside, a failing one is backed by memory (see :mod:`monitor.outbox`), and
only a state directory that cannot be written at all, or one another daemon holds,
stops the start (one line, exit 2).

Threads: the main thread runs the processing loop (predictions -> rules -> clips ->
sinks) and is the only one that pings the systemd watchdog (see
:mod:`monitor.daemon.watchdog`), so a stalled audio pipeline stops the pings. A
housekeeping thread says READY once audio flows, turns
SIGHUP into a reload (rules always; the config where that is safe), reloads a rules
file that changed on disk, watches source health and publishes it. Signal handlers only set flags.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

from monitor.alerts import Alert, AlertCleared, Severity
from monitor.audio.open import open_source
from monitor.audio.source import AudioSource, ObservedSource
from monitor.clips import ClipRecorder
from monitor.config import ConfigError, load_config
from monitor.config.schema import Config, SourceConfig
from monitor.daemon import logfmt
from monitor.daemon.health import HealthTracker, status_line, write_health
from monitor.daemon.instance import StateDirLock
from monitor.daemon.logfmt import event
from monitor.daemon.mode_store import ModeStore
from monitor.daemon.sdnotify import Notifier
from monitor.daemon.watchdog import LoopWatchdog
from monitor.errors import AudioInputError, UserError
from monitor.journal import journal_path
from monitor.model.runner import ModelRunner
from monitor.mqtt import MqttSink, RuleInfo, rule_infos
from monitor.mqtt.settings import for_state_dir
from monitor.mqtt.topics import rule_id
from monitor.outbox import Outbox
from monitor.pipeline import Pipeline
from monitor.private import open_to_others
from monitor.predictions import Prediction
from monitor.rules import RulesError, load_rules
from monitor.rules.reload import RulesHolder
from monitor.rules.schema import RuleSet
from monitor.rules.yamlsafe import Problem
from monitor.sounds.model import SoundModel, read_sounds
from monitor.sounds.store import LearntSound, folder_signature

log = logging.getLogger("monitor.daemon")

TICK = 0.5  # housekeeping period (0.1 s cost a live source ~0.2 % of a core more: bench/README.md)
STATUS_EVERY = 5.0  # seconds between STATUS= refreshes when nothing changed
PRUNE_EVERY = 3600.0  # seconds between clip retention sweeps
RULES_WATCH_EVERY = 2.0  # seconds between checks whether a rules file changed on disk
RESTART_KEYS = ("sources", "model", "hop", "rules", "state_dir", "mqtt")  # need a restart to change
EXIT_SOURCE_FAILED = 1  # worth a restart by systemd (a USB microphone may appear later)


class Daemon:
    def __init__(
        self,
        config: Config,
        environ: Mapping[str, str],
        journald: bool = False,
        echo: Callable[[Prediction | Alert | AlertCleared], None] | None = None,
    ) -> None:
        self.config = config
        self.echo = echo  # the interactive `run` shows predictions and alerts as they happen
        self.environ = dict(environ)
        self.journald = journald
        self.notifier = Notifier.from_environ(environ)
        self.pipeline: Pipeline | None = None
        self.watchdog: LoopWatchdog
        self.recorder: ClipRecorder | None = None
        self.sink: MqttSink | None = None
        self.outbox: Outbox | None = None
        self._lock: StateDirLock | None = None
        self.holders: dict[Path, RulesHolder] = {}
        self._mode_store = ModeStore(config.state_dir)
        self._engine_of: dict[str, RulesHolder] = {}
        # Only live audio is owed to the house: alerts of the demo and of recordings are published
        # as they happen (with MQTT) but never queued for a later run to replay as real.
        self._live = {s.id: s.kind in ("mic", "url") for s in config.sources}
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._cleared: queue.SimpleQueue[AlertCleared] = queue.SimpleQueue()  # from reloads, for the main loop
        self.model: SoundModel | None = None
        self._sounds: queue.SimpleQueue[tuple[LearntSound, ...]] = queue.SimpleQueue()  # reloaded, for the main loop
        self._sounds_signature: object = None
        self._held_clears: list[AlertCleared] = []
        self._finished: set[str] = set()  # sources whose rules have been cleared for good
        self._last_window: dict[str, float] = {}  # monotonic time of each source's latest window
        self._last_alert: str | None = None
        self._alerts = 0
        self._ready = False
        self._started = time.monotonic()
        self._model_name = ""
        self._cpu_mark: tuple[float, float] | None = None  # (monotonic, process CPU seconds) at the last report
        self._health_failing = False  # health.json could not be written last time

    # -- start-up -----------------------------------------------------------------
    def run(self) -> int:
        """Monitor until SIGTERM/SIGINT or until every source has ended; the exit code.

        A model, rules file or state directory that cannot be used raises its UserError
        (the CLI prints it and exits 2; the unit file does not restart on 2).
        """
        # Signals only set flags; installed first, so a SIGTERM or SIGHUP while the model loads is not fatal.
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, lambda *_: self._reload.set())
        try:
            return self._start()
        except UserError as exc:
            self.notifier.status(f"failed: {str(exc).splitlines()[0]}")
            self._close()
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self) -> int:
        c = self.config
        event(log, logging.INFO, "starting", config=c.path, sources=",".join(s.id for s in c.sources))
        self.notifier.status("loading the model and rules")
        runner = ModelRunner(c.model.path, c.model.threads)  # ModelError: fatal, exit 2
        self.model = model = SoundModel(runner, self._read_sounds(runner))
        self._model_name = model.metadata.name
        for source in c.sources:
            path = c.rules_for(source)
            if path not in self.holders:  # RulesError: fatal, exit 2
                check = partial(self._topics_free, path) if c.mqtt is not None else None
                self.holders[path] = RulesHolder(path, model.labels, model.metadata.thresholds, check)
            self._engine_of[source.id] = self.holders[path]
        missing = [label for label in c.clips.speech_labels if label not in model.labels]
        if c.clips.enabled and missing:
            event(log, logging.WARNING, "privacy_unchecked", labels=",".join(missing),
                  reason="the model has no such label, so clips cannot be checked for speech")  # fmt: skip
        self._lock = StateDirLock.acquire(c.state_dir)  # UserError: unwritable or in use, fatal
        exposed = open_to_others(c.state_dir)
        if exposed is not None:  # an existing directory keeps its mode; the files in it are 0600
            event(log, logging.WARNING, "state_dir_not_private", path=c.state_dir, problem=exposed,
                  hint=f"alerts and clips are private: chmod 700 {c.state_dir}")  # fmt: skip
        self._initial_mode()
        self.outbox = Outbox.open(journal_path(c.state_dir))  # UserError only for a newer journal
        try:
            sources = [open_configured(s, model.metadata.features.sample_rate) for s in c.sources]
        except AudioInputError as exc:
            if self.echo is not None:  # interactive `run`: a user mistake, reported as one line
                self._close()
                raise
            return self._source_failed(exc)
        if self.echo is not None:  # only now that the sources are open: a wrong device is the one line
            print(f"monitoring {', '.join(s.spec for s in c.sources)} (hop {c.hop:g} s); Ctrl-C stops", file=sys.stderr)
        history = ClipRecorder.history_seconds(c.clips) if c.clips.enabled else 15.0
        # Windows come a hop apart; a few hops without one means the pipeline is not processing.
        self.watchdog = LoopWatchdog(self.notifier, sources, fresh_seconds=2 * c.hop + 1.0)
        watched = [ObservedSource(source, self.watchdog.beat) for source in sources]
        self.pipeline = Pipeline(watched, model, c.hop, gate_dbfs=self._gate(), history_seconds=history)
        if c.clips.enabled:
            rings = {sid: stream.ring for sid, stream in self.pipeline.streams.items()}
            self.recorder = ClipRecorder(c.clips, c.clips_dir, rings)
            self.recorder.prune()
        if c.mqtt is not None:
            settings = for_state_dir(c.mqtt, c.state_dir)
            self.sink = MqttSink(settings, self.outbox, mode=self.mode, on_mode_set=self._mode_requested)
            self.sink.announce_rules(self._rule_infos())
            self.sink.start()
        event(log, logging.INFO, "model_loaded", model=model.metadata.name, labels=len(model.labels),
              sounds=",".join(s.name for s in model.sounds) or "none",
              rules=",".join(str(p) for p in self.holders), hop=c.hop, clips=c.clips.enabled,
              mqtt=c.mqtt.address if c.mqtt else "off")  # fmt: skip
        return self._monitor()

    def _source_failed(self, exc: AudioInputError) -> int:
        event(log, logging.ERROR, "fatal", reason=str(exc), hint="systemd restarts the service to try again")
        self.notifier.status(f"failed: {exc}")
        self._close()
        return EXIT_SOURCE_FAILED

    # -- the processing loop (main thread) ----------------------------------------
    def _monitor(self) -> int:
        assert self.pipeline is not None
        if self._stop.is_set():  # asked to stop while starting up
            self.pipeline.stop()
        housekeeper = threading.Thread(target=self._housekeep, name="housekeeping", daemon=True)
        housekeeper.start()
        predictions = self.pipeline.run()
        code = 0
        try:
            for prediction in predictions:
                self._process(prediction)
        except AudioInputError as exc:  # a source that cannot start at all
            code = self._source_failed(exc)
        finally:
            predictions.close()  # stops the sources
            self._stop.set()
            self.notifier.stopping()
            event(log, logging.INFO, "stopping")
            housekeeper.join(timeout=5)
            try:
                for source in self._engine_of:  # shutting down: nothing stays ON (retained) or uncleared
                    self._finish_source(source)
                if self.recorder is not None:
                    for alert in self.recorder.flush():
                        self._dispatch(alert)
                    self._release_clears()
                self._write_health(final=True)
            finally:
                self._close()
        event(log, logging.INFO, "stopped", alerts=self._alerts, uptime=time.monotonic() - self._started)
        return code

    def _on_stop(self, *_: object) -> None:
        self._stop.set()
        if self.pipeline is not None:
            self.pipeline.stop()

    def _finish_source(self, source: str) -> None:
        """The source has ended (or the daemon stops): clear its active rules."""
        if source not in self._finished:
            self._finished.add(source)
            for cleared in self._engine_of[source].engine.finish(source):
                self._clear(cleared)

    def _process(self, prediction: Prediction) -> None:
        assert self.pipeline is not None
        for source in self.pipeline.ended:  # a recording that ended while others go on
            self._finish_source(source)
        self._last_window[prediction.source] = time.monotonic()
        if self.echo is not None:
            self.echo(prediction)
        self.watchdog.window(prediction.source)
        if log.isEnabledFor(logging.DEBUG):
            top = ",".join(f"{label}:{score:.2f}" for label, score in prediction.top(3))
            event(log, logging.DEBUG, "window", source=prediction.source, start=prediction.start,
                  level_dbfs=prediction.level_dbfs, top=top or "skipped")  # fmt: skip
        if self.recorder is not None:
            self.recorder.observe(prediction)
        while True:
            try:
                self._clear(self._cleared.get_nowait())
            except queue.Empty:
                break
        while True:  # between two predictions, so no batch mixes old and new sounds
            try:
                assert self.model is not None
                self.model.set_sounds(self._sounds.get_nowait())
            except queue.Empty:
                break
        for item in self._engine_of[prediction.source].engine.process(prediction):
            if isinstance(item, Alert):
                self._raised(item)
            else:
                self._clear(item)
        if self.recorder is not None:
            for alert in self.recorder.poll():
                self._dispatch(alert)
            self._release_clears()
        if self.sink is not None:
            self.sink.publish_state(prediction)

    def _raised(self, alert: Alert) -> None:
        self._alerts += 1
        stamp = time.strftime("%H:%M:%S", time.localtime(alert.wall_time))
        self._last_alert = f"{alert.rule} on {alert.source} at {stamp}"
        if self.recorder is None:
            self._dispatch(alert)
            return
        # Journaled now, so kill -9 during the post-roll cannot lose it; sent once the
        # clip has been recorded, with the clip's path.
        assert self.outbox is not None
        self.outbox.hold(alert, deliver=self._owed(alert))
        self.recorder.add(alert)
        event(log, logging.INFO, "alert_held", rule=alert.rule, id=alert.id, post_seconds=self.recorder.settings.post_seconds)

    def _dispatch(self, alert: Alert) -> None:
        # The interactive `run` shows each alert itself (echo): a warning log line would say it twice.
        level = logging.INFO if alert.severity == Severity.INFO or self.echo is not None else logging.WARNING
        event(log, level, "alert", rule=alert.rule, source=alert.source, severity=alert.severity.value,
              label=alert.label, score=round(alert.score, 3), mode=alert.mode, onset=round(alert.onset, 2),
              clip=alert.clip_path, id=alert.id, message=alert.message)  # fmt: skip
        if self.echo is not None:
            self.echo(alert)
        if self.sink is not None:
            self.sink.publish_alert(alert, deliver=self._owed(alert))  # stores first; the outbox never raises
        elif self.outbox is not None:
            self.outbox.append(alert, deliver=False)  # no broker in this run: never owed to one

    def _owed(self, alert: Alert) -> bool:
        """Whether the broker is owed ``alert`` until it acknowledges it: live audio, with MQTT on."""
        return self.sink is not None and self._live[alert.source]

    def _clear(self, cleared: AlertCleared) -> None:
        if self.recorder is not None and self.recorder.holds(cleared.alert_id):
            self._held_clears.append(cleared)  # its alert has not gone out yet
            return
        event(log, logging.INFO, "alert_cleared", rule=cleared.rule, source=cleared.source, id=cleared.alert_id)
        if self.echo is not None:
            self.echo(cleared)
        if self.sink is not None:
            self.sink.publish_cleared(cleared)
        elif self.outbox is not None:
            self.outbox.mark_cleared(cleared.alert_id, cleared.wall_time)

    def _release_clears(self) -> None:
        held, self._held_clears = self._held_clears, []
        for cleared in held:
            self._clear(cleared)

    # -- housekeeping thread ------------------------------------------------------
    def _housekeep(self) -> None:
        tracker = HealthTracker(stall_seconds=max(15.0, 3 * self.config.hop + 10))
        last_status = last_prune = last_watch = time.monotonic()
        last_health = float("-inf")  # the first report goes out at once
        status = ""
        mode = self.mode
        while not self._stop.wait(TICK):
            try:
                now = time.monotonic()
                if not self._ready and self._audio_flows():
                    self._ready = True
                    status = self._status(tracker)
                    self.notifier.ready(status)
                    event(log, logging.INFO, "ready", status=status)
                if self._reload.is_set():
                    self._reload.clear()
                    self._do_reload()
                    status = self._status(tracker)
                    self.notifier.ready(status)
                if now - last_watch >= RULES_WATCH_EVERY:
                    last_watch = now
                    if self._sounds_changed() and self._reload_sounds():
                        self._reload_rules(changed_only=False)
                    else:
                        self._reload_rules(changed_only=True)
                if self.mode != mode:
                    mode = self.mode
                    event(log, logging.INFO, "mode", mode=mode, reason=self._primary.engine.mode_state().reason)
                    if self.sink is not None:
                        self.sink.set_mode(mode)
                sources = self._source_health(tracker)
                changes = tracker.transitions(sources)
                for change in changes:
                    if change.ok:
                        event(log, logging.WARNING, "source_up", source=change.source, status=change.status)
                    else:
                        event(log, logging.WARNING, "source_down", source=change.source, status=change.status)
                if changes or now - last_health >= self.config.health_interval:
                    last_health = now
                    self._publish_health(sources)
                if self._ready and (changes or now - last_status >= STATUS_EVERY):
                    last_status = now
                    text = self._status(tracker)
                    if text != status:
                        status = text
                        self.notifier.status(status)
                if self.outbox is not None:
                    self.outbox.retry()
                if self.recorder is not None and now - last_prune >= PRUNE_EVERY:
                    last_prune = now
                    self.recorder.prune()
            except Exception:  # housekeeping must never die silently and leave the service half-alive
                log.exception("event=housekeeping_error")

    def _audio_flows(self) -> bool:
        assert self.pipeline is not None
        return any(stream.samples_seen > 0 for stream in self.pipeline.streams.values())

    def _source_health(self, tracker: HealthTracker) -> dict[str, dict]:
        assert self.pipeline is not None
        now = time.monotonic()
        # A source that has not produced its first window yet is measured from start-up.
        last = {sid: self._last_window.get(sid, self._started) for sid in self.pipeline.streams}
        return tracker.source_health(self.pipeline.stats(), last, now)

    def _status(self, tracker: HealthTracker) -> str:
        assert self.pipeline is not None
        line = status_line(self.mode, self._source_health(tracker), self._last_alert, self.pipeline.stats().windows)
        return line + journal_note(self.outbox.health() if self.outbox else None)

    def _health(self, sources: dict[str, dict]) -> dict[str, object]:
        assert self.pipeline is not None
        stats = self.pipeline.stats()
        health: dict[str, object] = {
            "time": round(time.time(), 3),
            "uptime": round(time.monotonic() - self._started, 1),
            "ready": self._ready,
            "ok": stats.model_ok and all(h["ok"] for h in sources.values()),
            "mode": self.mode,
            "model": self._model_name,
            "model_ok": stats.model_ok,  # False while the model's scores are NaN or inf
            "invalid_scores": stats.invalid_scores,
            "cpu": self._cpu_load(),
            "sources": sources,
            "windows": stats.windows,
            "inferred": stats.inferred,
            "inference_seconds": round(stats.inference_seconds, 3),
            "alerts": self._alerts,
            "last_alert": self._last_alert,
            "clips_pending": self.recorder.pending if self.recorder else 0,
            "journal": self.outbox.health() if self.outbox else None,
        }
        if self.sink is not None:
            health["mqtt"] = {"connected": self.sink.connected, "last_error": self.sink.last_error}
        return health

    def _cpu_load(self) -> float | None:
        """CPU used by the whole process (every thread), in cores, since the previous health report."""
        now, used = time.monotonic(), time.process_time()
        last, self._cpu_mark = self._cpu_mark, (now, used)
        if last is None or now <= last[0]:
            return None
        return round((used - last[1]) / (now - last[0]), 4)

    def _publish_health(self, sources: dict[str, dict]) -> None:
        health = self._health(sources)
        self._store_health(health)
        if self.sink is not None:
            self.sink.publish_health(health)

    def _store_health(self, health: dict[str, object]) -> None:
        """Write health.json; a full disk is logged once (and its end), never raised."""
        try:
            write_health(self.config.state_dir, health)
        except OSError as exc:
            if not self._health_failing:
                event(log, logging.ERROR, "health_not_written", reason=exc.strerror or str(exc),
                      hint=f"check free space in {self.config.state_dir}")  # fmt: skip
            self._health_failing = True
            return
        if self._health_failing:
            event(log, logging.INFO, "health_written_again")
        self._health_failing = False

    def _write_health(self, final: bool = False) -> None:
        if self.pipeline is None:
            return
        sources = self._source_health(HealthTracker(stall_seconds=float("inf")))
        health = self._health(sources)
        if final:
            health["ready"] = False
            health["stopped"] = True
        self._store_health(health)

    # -- reload (housekeeping thread) ---------------------------------------------
    def _do_reload(self) -> None:
        self.notifier.reloading()
        event(log, logging.INFO, "reloading")
        if self.config.path is not None:
            try:
                config = load_config(self.config.path, self.environ)
            except ConfigError as exc:
                event(log, logging.ERROR, "config_reload_failed", problems=str(exc), hint="kept the running config")
            else:
                self._apply_config(config)
        self._reload_sounds()
        self._reload_rules(changed_only=False)
        event(log, logging.INFO, "reloaded")

    # -- learnt sounds --------------------------------------------------------------
    def _read_sounds(self, runner: ModelRunner) -> tuple[LearntSound, ...]:
        """The usable sounds of the configured folder; each one left out is logged with what to do."""
        folder = self.config.sounds_dir
        if folder is None:
            return ()
        self._sounds_signature = folder_signature(folder)
        loaded = read_sounds(runner, folder)
        for problem in loaded.problems:
            event(log, logging.WARNING, "sound_not_loaded", reason=problem)
        return loaded.sounds

    def _sounds_changed(self) -> bool:
        folder = self.config.sounds_dir
        return folder is not None and folder_signature(folder) != self._sounds_signature

    def _reload_sounds(self) -> bool:
        """Re-read the sounds folder; the new sounds apply only if every rules file is valid with them
        (a removed sound that a rule still uses keeps running). True when they were taken."""
        assert self.model is not None
        sounds = self._read_sounds(self.model.runner)
        labels = self.model.builtin_labels + tuple(s.name for s in sounds)
        thresholds = {**self.model.runner.metadata.thresholds, **{s.name: s.threshold for s in sounds}}
        for path in self.holders:
            try:
                load_rules(path, labels, thresholds)
            except RulesError as exc:
                event(log, logging.ERROR, "sounds_reload_failed", rules=path, problems=str(exc),
                      hint="kept the running sounds: fix the rules or learn the sound again")  # fmt: skip
                return False
        self._sounds.put(sounds)
        for holder in self.holders.values():
            holder.set_labels(labels, thresholds)
        event(log, logging.INFO, "sounds_loaded", sounds=",".join(s.name for s in sounds) or "none")
        return True

    def _reload_rules(self, changed_only: bool) -> None:
        """Reload every rules file (or only those changed on disk); a broken file keeps its running rules."""
        reloaded = False
        for path, holder in self.holders.items():
            result = holder.reload_if_changed() if changed_only else holder.reload()
            if result is None:
                continue
            reloaded = True
            if result.ok:
                event(log, logging.INFO, "rules_reloaded", rules=path, result=result.message)
                for cleared in result.cleared:
                    self._cleared.put(cleared)  # sent by the processing loop, in order with its alerts
            else:
                event(log, logging.ERROR, "rules_reload_failed", rules=path, problems=result.message,
                      hint="kept the running rules")  # fmt: skip
        if reloaded:
            assert self.pipeline is not None
            self.pipeline.gate_dbfs = self._gate()
            if self.sink is not None:
                self.sink.announce_rules(self._rule_infos())

    def _apply_config(self, new: Config) -> None:
        """Take over what is safe to change while running; name what needs a restart."""
        old = self.config
        changed = [key for key in RESTART_KEYS if getattr(new, key) != getattr(old, key)]
        if new.clips.enabled != old.clips.enabled:
            changed.append("clips.enabled")  # clips need a longer ring buffer, sized at start
        if changed:
            event(log, logging.WARNING, "config_needs_restart", changed=",".join(changed),
                  hint="systemctl restart sound-monitor")  # fmt: skip
        if new.logging != old.logging:
            logfmt.configure(new.logging.level, self.journald)
        if new.mode != old.mode and new.mode is not None:
            self._set_mode(new.mode)
        clips = new.clips if new.clips.enabled == old.clips.enabled else old.clips
        if self.recorder is not None:
            self.recorder.settings = clips  # timing and limits apply from the next alert
        self.config = replace(new, clips=clips, **{key: getattr(old, key) for key in RESTART_KEYS})  # type: ignore[arg-type]

    # -- rules and modes ----------------------------------------------------------
    @property
    def _primary(self) -> RulesHolder:
        return self._engine_of[self.config.sources[0].id]

    @property
    def mode(self) -> str:
        return self._primary.engine.mode_state().mode

    def _set_mode(self, mode: str, now: float | None = None) -> None:
        """An explicit mode (config, MQTT) requested at ``now``: every rules file's engine follows it."""
        for holder in self.holders.values():
            holder.engine.set_mode(mode, now=now)

    def _mode_requested(self, mode: str) -> None:
        """A run-time request (MQTT, hence the attached dashboard): followed and stored."""
        now = time.time()
        self._set_mode(mode, now)
        self._mode_store.save(mode, now)

    def _initial_mode(self) -> None:
        """A mode named in the config (or --mode) wins; else the last run-time request is
        restored, ending as it would have if a schedule boundary passed meanwhile."""
        if self.config.mode:
            self._set_mode(self.config.mode)
            return
        stored = self._mode_store.load()
        if stored is not None:
            self._set_mode(stored.mode, stored.set_at)
            state = self._primary.engine.mode_state()
            event(log, logging.INFO, "mode_restored", requested=stored.mode, mode=state.mode, reason=state.reason)

    def _topics_free(self, path: Path, rules: RuleSet) -> None:
        """Raise RulesError for a rule of ``path`` whose MQTT topic a differently named rule of
        another rules file has: the sink could publish only one of them."""
        taken = {rule_id(rule.name): (rule.name, other) for other, holder in self.holders.items() if other != path
                 for rule in holder.engine.rules.rules}
        problems = []
        for rule in rules.rules:
            name, other = taken.get(rule_id(rule.name), (rule.name, path))
            if name != rule.name:
                problems.append(Problem(rule.line, f"rule '{rule.name}' and rule '{name}' of {other} map to the same "
                                        f"MQTT topic .../alert/{rule_id(rule.name)}", "rename one"))
        if problems:
            raise RulesError(str(path), problems)

    def _gate(self) -> float:
        return min(holder.engine.min_gate_dbfs for holder in self.holders.values())

    def _rule_infos(self) -> list[RuleInfo]:
        infos: dict[str, RuleInfo] = {}
        for holder in self.holders.values():
            for info in rule_infos(holder.engine.rules):
                infos.setdefault(info.name, info)
        return list(infos.values())

    def _close(self) -> None:
        if self.sink is not None:
            self.sink.close(timeout=3.0)  # publishes offline, waits briefly for PUBACKs
            self.sink = None
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self.notifier.close()


def journal_note(journal: dict[str, object] | None) -> str:
    """What STATUS= adds about the journal: nothing when all is well."""
    if journal is None:
        return ""
    note = ""
    if journal["state"] == "failing":
        note += f"; journal failing ({journal['unsaved']} alerts in memory): {journal['error']}"
    if journal["moved_aside"]:
        note += f"; damaged journal moved aside to {journal['moved_aside']}"
    return note


def open_configured(source: SourceConfig, sample_rate: int) -> AudioSource:
    """The audio source a config entry describes (raises AudioInputError if it cannot be opened)."""
    if source.kind == "url":
        from monitor.audio.ffmpeg import FfmpegSource

        return FfmpegSource(str(source.target), sample_rate, stall_seconds=source.stall_seconds, source_id=source.id)
    return open_source(source.spec, sample_rate, realtime=source.realtime, device=source.target, source_id=source.id)
