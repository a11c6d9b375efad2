"""A feed attached to a running daemon over MQTT (the microphone belongs to the daemon).

Takes :class:`~monitor.mqtt.MqttSettings` (broker, credentials, TLS, topic prefix);
gives the dashboard's messages from the daemon's topics (layout in
:mod:`monitor.mqtt.topics`): ``<prefix>/state`` (level and top labels) becomes
:class:`~monitor.tui.messages.Heard` without band energies, ``<prefix>/alert`` an
alert, the retained ``<prefix>/rule/<rule>/state`` ``ON``/``OFF`` rule states
(active / idle) and clears, the retained ``<prefix>/mode`` the mode,
``<prefix>/health`` and ``<prefix>/availability`` the health line. ``set_mode``
publishes the request on ``<prefix>/mode/set``; the daemon answers on
``<prefix>/mode``, and only that changes the displayed mode.

Health keys read (all optional): ``model``, ``backlog``, ``cpu`` (fraction of a core;
without it, the change of ``inference_seconds`` over the change of ``uptime``),
``sources`` (``{id: {"ok": bool, "status": str}}`` or a list of objects with ``id``),
else ``source_ok``.

paho runs the callbacks on its network thread; none of them lets an exception escape.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from monitor.alerts import Alert, AlertCleared
from monitor.mqtt import MqttSettings, Topics
from monitor.mqtt.topics import MODES, rule_id
from monitor.tui.feed import Post
from monitor.tui.messages import (
    AlertEnded,
    AlertRaised,
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

log = logging.getLogger(__name__)

NOTE = "attached: the daemon publishes level and top labels only (no spectrogram, no thresholds)"


class MqttFeed:
    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)  # type: ignore[arg-type]
        self._rule_filter = f"{settings.topic_prefix}/rule/+/state"
        self._post: Post | None = None
        self._lock = threading.Lock()
        self._rules: dict[str, bool] = {}  # rule id -> ON
        self._last_alert: dict[str, Alert] = {}  # rule id -> its newest alert
        self._connection = "connecting"
        self._daemon = "unknown"
        self._health: dict[str, object] = {}
        self._cpu: float | None = None
        self._inference: tuple[float, float] | None = None  # (uptime, inference_seconds) of the last health
        self._client = self._make_client()

    # -- Feed ----------------------------------------------------------------------
    def start(self, post: Post) -> None:
        self._post = post
        post(self._info())
        self._post_health()
        s = self.settings
        self._client.connect_async(s.host, s.port, s.keepalive)  # type: ignore[arg-type]
        self._client.loop_start()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; modes are {', '.join(MODES)}")
        self._client.publish(self.topics.mode_set, mode, qos=1)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # -- connection ------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            # Never the daemon's client id: the broker would disconnect the daemon.
            client_id=f"sound-monitor-tui-{s.node_id}-{os.getpid()}",
            protocol=mqtt.MQTTv5 if s.protocol == "5" else mqtt.MQTTv311,
        )
        client.enable_logger(logging.getLogger("monitor.tui.paho"))
        client.reconnect_delay_set(s.reconnect_min_delay, s.reconnect_max_delay)  # type: ignore[arg-type]
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(
                ca_certs=str(s.tls_ca_certs) if s.tls_ca_certs else None,
                certfile=str(s.tls_certfile) if s.tls_certfile else None,
                keyfile=str(s.tls_keyfile) if s.tls_keyfile else None,
                cert_reqs=ssl.CERT_NONE if s.tls_insecure else ssl.CERT_REQUIRED,
            )
            if s.tls_insecure:
                client.tls_insecure_set(True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        try:
            if getattr(reason, "is_failure", False):
                self._connection = f"refused: {reason}"
            else:
                # Subscribing here restores the subscriptions after every reconnect.
                client.subscribe([
                    (self.topics.state, 0), (self.topics.health, 0), (self.topics.alert, 1),
                    (self.topics.mode, 1), (self.topics.availability, 1), (self._rule_filter, 1),
                ])
                self._connection = "connected"
            self._post_health()
        except Exception:
            log.exception("error in on_connect")

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        try:
            self._connection = "cannot connect; retrying"
            self._post_health()
        except Exception:
            log.exception("error in on_connect_fail")

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        try:
            self._connection = "lost; reconnecting"
            self._post_health()
        except Exception:
            log.exception("error in on_disconnect")

    # -- incoming --------------------------------------------------------------------
    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            self._handle(message.topic, bytes(message.payload))
        except Exception:  # a malformed payload must not kill paho's network thread
            log.warning("ignored a malformed message on %s", message.topic, exc_info=True)

    def _handle(self, topic: str, payload: bytes) -> None:
        post = self._post
        assert post is not None
        t = self.topics
        if topic == t.state:
            data = json.loads(payload)
            scores = {str(item["label"]): float(item["score"]) for item in data.get("top", [])}
            post(Heard(str(data.get("source", "?")), float(data.get("wall_time", time.time())),
                       float(data["level_dbfs"]), scores, bool(data.get("skipped", False))))
        elif topic == t.alert:
            alert = Alert.from_json(json.loads(payload))
            with self._lock:
                self._last_alert[rule_id(alert.rule)] = alert
            post(AlertRaised(alert))
        elif topic == t.mode:
            mode = payload.decode("utf-8", "replace")
            if mode in MODES:
                post(ModeChanged(mode))
        elif topic == t.health:
            data = json.loads(payload)
            if isinstance(data, dict):
                self._health = data
                self._cpu = self._cpu_load(data)
                self._post_health()
        elif topic == t.availability:
            self._daemon = payload.decode("utf-8", "replace") or "unknown"
            self._post_health()
            with self._lock:
                states = self._states()
            post(RulesChanged(states))
        elif mqtt.topic_matches_sub(self._rule_filter, topic):
            self._rule_state(topic.split("/")[-2], payload)

    def _rule_state(self, rid: str, payload: bytes) -> None:
        post = self._post
        assert post is not None
        with self._lock:
            known = rid in self._rules
            was_on = self._rules.get(rid, False)
            if not payload:  # an empty retained state: the daemon deleted the rule
                self._rules.pop(rid, None)
            else:
                self._rules[rid] = payload == b"ON"
            now_on = self._rules.get(rid, False)
            alert = self._last_alert.get(rid)
            states = self._states()
            changed_set = known != (rid in self._rules)
        if changed_set:
            post(self._info())
        post(RulesChanged(states))
        if was_on and not now_on and alert is not None:
            post(AlertEnded(AlertCleared(alert.rule, alert.source, alert.id, 0.0, time.time())))

    def _states(self) -> tuple[RuleState, ...]:
        """Each rule's state as last published; all "offline" while the daemon is: its retained
        states are what it said before it went, not what is happening now. Called with the lock held."""
        if self._daemon == "offline":
            return tuple(RuleState(name, "offline") for name in self._rules)
        return tuple(RuleState(name, "active" if on else "idle") for name, on in self._rules.items())

    def _cpu_load(self, health: dict[str, object]) -> float | None:
        """``cpu`` if the daemon reports it, else its inference time per second of uptime
        between two health reports (the bulk of the pipeline's work)."""
        cpu = health.get("cpu")
        if isinstance(cpu, (int, float)):
            return float(cpu)
        uptime, busy = health.get("uptime"), health.get("inference_seconds")
        if not isinstance(uptime, (int, float)) or not isinstance(busy, (int, float)):
            return None
        previous, self._inference = self._inference, (float(uptime), float(busy))
        if previous is None or uptime <= previous[0] or busy < previous[1]:  # first report, or a restart
            return None
        return (busy - previous[1]) / (uptime - previous[0])

    # -- outgoing messages -------------------------------------------------------------
    def _info(self) -> FeedInfo:
        with self._lock:
            rules = tuple(RuleInfo(name, "") for name in self._rules)
        return FeedInfo(
            origin=f"mqtt {self.settings.address} {self.settings.topic_prefix}",
            model=str(self._health["model"]) if "model" in self._health else None,
            thresholds={},
            watched=(),
            rules=rules,
            note=NOTE,
            spectrum=False,
        )

    def _post_health(self) -> None:
        assert self._post is not None
        h = self._health
        backlog = h.get("backlog")
        sources = _sources(h)
        if self._daemon == "offline":  # its last health report is history
            sources = tuple(SourceHealth(s.source, False, "daemon offline") for s in sources)
        self._post(HealthChanged(HealthReport(
            sources=sources,
            cpu=self._cpu,
            mqtt=f"{self._connection}, daemon {self._daemon}",
            backlog=int(backlog) if isinstance(backlog, int) else None,
            model=str(h["model"]) if "model" in h else None,
        )))


def _sources(health: dict[str, object]) -> tuple[SourceHealth, ...]:
    sources = health.get("sources")
    if isinstance(sources, dict):
        return tuple(
            SourceHealth(str(name), bool(info.get("ok", True)), str(info.get("status", "")))
            for name, info in sources.items() if isinstance(info, dict)
        )
    if isinstance(sources, list):
        return tuple(
            SourceHealth(str(info.get("id", info.get("source", "?"))), bool(info.get("ok", True)),
                         str(info.get("status", "")))
            for info in sources if isinstance(info, dict)
        )
    if "source_ok" in health:
        ok = bool(health["source_ok"])
        return (SourceHealth("daemon", ok, "ok" if ok else "failing"),)
    return ()
