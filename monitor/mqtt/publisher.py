"""The MQTT sink: alerts, rule states, live state, health and mode over one paho client.

Takes :class:`~monitor.mqtt.settings.MqttSettings`, a :class:`~monitor.journal.Journal`
and the owner's calls (see :mod:`monitor.mqtt` for the API); gives the topics in
:mod:`monitor.mqtt.topics` and Home Assistant discovery.

How delivery stays durable: :meth:`MqttSink.publish_alert` commits the alert to the
journal first, then publishes every journaled alert this connection has not sent
yet, in raise order. An alert is marked delivered when the broker has acknowledged
(PUBACK) both its copies. On every connect the sink drops paho's own queue of
unacknowledged messages (it would resend stale retained states *after* the fresh
ones) and replays the journal's undelivered alerts instead, so after an outage or a
restart they arrive in order, marked ``replayed`` (see :mod:`monitor.mqtt.delivery`);
a copy sent just before a connection broke may arrive twice, with the same ``id``.
Alerts journaled with ``deliver=False`` are published only as they happen.

Threads: paho's network thread runs the callbacks; the owner calls from its own
thread. ``on_mode_set`` is called on the network thread, so it must be quick and
thread-safe (e.g. put the mode on a queue). Callbacks never raise into paho.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from monitor import __version__
from monitor.alerts import Alert, AlertCleared
from monitor.errors import UserError
from monitor.journal import Journal
from monitor.mqtt.delivery import alert_payload, replay_notice
from monitor.mqtt.discovery import RuleInfo, discovery_configs, rule_config_filter, rule_config_topic
from monitor.mqtt.discovery import rule_id_from_config_topic
from monitor.mqtt.settings import MqttSettings
from monitor.mqtt.topics import MODES, Topics, parse_mode, rule_id
from monitor.predictions import Prediction
from monitor.throttle import Throttle

log = logging.getLogger(__name__)

HA_STATUS_TOPIC = "homeassistant/status"
_TOP_LABELS = 3
_ALERT_COPIES = 2  # <prefix>/alert and <prefix>/alert/<rule>
_LOGGED_PAYLOAD = 40  # bytes of a rejected payload shown in the warning


class _Client(mqtt.Client):
    """paho's client, remembering why the last connection attempt failed.

    paho's network loop swallows the exception and only calls ``on_connect_fail``;
    the user needs the reason (refused, certificate verify failed, ...).
    """

    last_error: OSError | None = None

    def reconnect(self) -> MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as exc:
            self.last_error = exc
            raise


class MqttSink:
    """Publishes to one broker; reconnects with exponential backoff until closed."""

    def __init__(
        self,
        settings: MqttSettings,
        journal: Journal,
        *,
        mode: str = "home",
        on_mode_set: Callable[[str], None] | None = None,
        version: str = __version__,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in MODES:
            raise UserError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self._settings = settings
        self._journal = journal
        self._topics = Topics(settings.topic_prefix)  # type: ignore[arg-type]
        self._version = version
        self._clock = clock
        self._on_mode_set = on_mode_set
        self._mode_warnings = Throttle(clock=clock)  # a flood of bad requests must not flood the log
        self._mode = mode
        self._rules: list[RuleInfo] | None = None  # None until announce_rules: nothing to prune yet
        self._rule_states: dict[str, bool] = {}  # rule name -> ON
        self._broker_rule_ids: set[str] = set()  # rule sensors whose configs the broker retains
        self._connected = False
        self._closing = False
        self._last_error: str | None = None
        self._last_state = float("-inf")
        self._last_health = float("-inf")
        # _lock orders journal drains and guards the state above. It is never taken
        # in on_publish, which paho calls while holding its own message lock.
        self._lock = threading.RLock()
        self._sent_upto = 0  # journal seq already handed to paho on this connection
        self._connected_at = float("inf")  # Unix time of the current connection (alerts raised before are replays)
        self._ack_lock = threading.Lock()
        self._awaiting: dict[int, str] = {}  # mid -> alert id
        self._copies_left: dict[str, int] = {}  # alert id -> PUBACKs still missing
        self._early_acks: dict[int, float] = {}  # PUBACKs that beat their registration
        self._client = self._make_client()

    # -- public API ---------------------------------------------------------------

    def start(self) -> "MqttSink":
        """Start connecting in the background (returns at once; see :attr:`connected`)."""
        s = self._settings
        log.info("MQTT: connecting to %s as %s, prefix %s", s.address, s.client_id, s.topic_prefix)
        kwargs: dict[str, object] = {"clean_start": True} if s.protocol == "5" else {}
        self._client.connect_async(s.host, s.port, s.keepalive, **kwargs)  # type: ignore[arg-type]
        self._client.loop_start()
        return self

    def __enter__(self) -> "MqttSink":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def backlog(self) -> int:
        """Journaled alerts the broker has not acknowledged yet."""
        return self._journal.pending_count()

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed (None once connected)."""
        return self._last_error

    @property
    def mode(self) -> str:
        return self._mode

    def publish_alert(self, alert: Alert, deliver: bool = True) -> None:
        """Journal ``alert`` (durable when this returns), set its rule ON, publish if connected.

        With ``deliver`` the journal owes it to the broker until acknowledged (replayed after an
        outage or a restart); without (the demo, a recording) it is published now if connected
        and never later. If the journal cannot be written (disk full, card failing), the alert
        is still published once, untracked: an alert now beats a durable one never.
        """
        try:
            self._journal.append(alert, deliver=deliver)
            tracked = deliver
        except sqlite3.Error as exc:
            log.error("cannot journal alert %s (%s): publishing it without a delivery guarantee", alert.id, exc)
            tracked = False
        with self._lock:
            self._rule_states[alert.rule] = True
            if not self._connected:
                return
            self._publish_rule_state(alert.rule)
            if tracked:
                self._drain()
            else:
                now = time.time()
                payload = alert_payload(alert, now, self._connected_at, now, self._settings.stale_after)
                for topic in (self._topics.alert, self._topics.rule_alert(alert.rule)):
                    self._client.publish(topic, payload, qos=1)

    def publish_cleared(self, cleared: AlertCleared) -> None:
        """The rule's sound is gone: its state goes OFF (retained)."""
        try:
            self._journal.mark_cleared(cleared.alert_id, cleared.wall_time)
        except sqlite3.Error as exc:
            log.error("cannot record in the journal that alert %s cleared (%s)", cleared.alert_id, exc)
        with self._lock:
            self._rule_states[cleared.rule] = False
            if self._connected:
                self._publish_rule_state(cleared.rule)

    def publish_state(self, prediction: Prediction) -> bool:
        """Level and top labels, at most once per ``state_interval``; True if sent."""
        now = self._clock()
        if not self._connected or now - self._last_state < self._settings.state_interval:
            return False
        self._last_state = now
        payload = {
            "source": prediction.source,
            "wall_time": round(prediction.wall_time, 3),
            "level_dbfs": round(prediction.level_dbfs, 1),
            "skipped": prediction.skipped,
            "top": [{"label": label, "score": round(score, 4)} for label, score in prediction.top(_TOP_LABELS)],
        }
        self._client.publish(self._topics.state, json.dumps(payload), qos=0)
        return True

    def publish_health(self, health: dict[str, object]) -> bool:
        """``health`` plus the journal backlog, at most once per ``health_interval``; True if sent."""
        now = self._clock()
        if not self._connected or now - self._last_health < self._settings.health_interval:
            return False
        self._last_health = now
        payload = {**health, "backlog": self.backlog}
        self._client.publish(self._topics.health, json.dumps(payload, default=str), qos=0)
        return True

    def announce_rules(self, rules: Iterable[RuleInfo | tuple[str, str, object]]) -> None:
        """Declare the rule set: (re)publish discovery and remove entities of rules now gone."""
        infos = [RuleInfo.of(rule) for rule in rules]  # type: ignore[arg-type]
        ids: dict[str, str] = {}
        for info in infos:
            other = ids.setdefault(rule_id(info.name), info.name)
            if other != info.name:
                raise UserError(f"rules {other!r} and {info.name!r} map to the same MQTT topic; rename one")
        with self._lock:
            gone = {rule.name for rule in self._rules or ()} - {info.name for info in infos}
            self._rules = infos
            for name in gone:
                self._rule_states.pop(name, None)
            for info in infos:
                self._rule_states.setdefault(info.name, False)
            if self._connected:
                self._publish_discovery()
                for info in infos:
                    self._publish_rule_state(info.name)
                self._remove_stale_rules(self._broker_rule_ids | {rule_id(name) for name in gone})

    def set_mode(self, mode: str) -> None:
        """The owner changed the mode (e.g. from the TUI): publish it, retained."""
        if mode not in MODES:
            raise UserError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        with self._lock:
            self._mode = mode
            if self._connected:
                self._publish_mode()

    def close(self, timeout: float = 5.0) -> None:
        """Publish ``offline``, wait up to ``timeout`` s for outstanding PUBACKs, disconnect."""
        with self._lock:
            self._closing = True
            connected = self._connected
        if connected:
            info = self._client.publish(self._topics.availability, "offline", qos=1, retain=True)
            deadline = time.monotonic() + timeout
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):  # the connection dropped meanwhile: the will says offline
                pass
            while self._awaiting_any() and time.monotonic() < deadline:
                time.sleep(0.02)
            self._client.disconnect()
        self._client.loop_stop()
        with self._lock:
            self._connected = False

    # -- connection ---------------------------------------------------------------

    def _make_client(self) -> _Client:
        s = self._settings
        protocol = mqtt.MQTTv5 if s.protocol == "5" else mqtt.MQTTv311
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id or "",
            protocol=protocol,
            # A fresh session every time: the journal, not the broker, holds what is owed.
            clean_session=True if protocol == mqtt.MQTTv311 else None,
        )
        client.on_log = _log_paho
        client.connect_timeout = s.connect_timeout
        client.reconnect_delay_set(s.reconnect_min_delay, s.reconnect_max_delay)  # type: ignore[arg-type]
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            try:
                client.tls_set(
                    ca_certs=str(s.tls_ca_certs) if s.tls_ca_certs else None,
                    certfile=str(s.tls_certfile) if s.tls_certfile else None,
                    keyfile=str(s.tls_keyfile) if s.tls_keyfile else None,
                    cert_reqs=ssl.CERT_NONE if s.tls_insecure else ssl.CERT_REQUIRED,
                )
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise UserError(f"mqtt settings: cannot load the TLS files: {exc}") from None
            if s.tls_insecure:
                client.tls_insecure_set(True)
                log.warning("MQTT: TLS certificate verification is OFF (tls_insecure); use it for tests only")
        client.will_set(self._topics.availability, "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        try:
            if getattr(reason, "is_failure", False):
                self._note_error(f"MQTT: broker {self._settings.address} refused the connection: {reason}")
                return
            # Stale copies would be resent after the fresh state below; the journal replays alerts.
            client.drop_out_messages()
            with self._ack_lock:
                self._awaiting.clear()
                self._copies_left.clear()
                self._early_acks.clear()
            log.info("MQTT: connected to %s", self._settings.address)
            self._last_error = None
            # Subscribing here restores the subscriptions after every reconnect.
            filters = [(self._topics.mode_set, 1), (HA_STATUS_TOPIC, 1)]
            if self._settings.discovery:
                filters.append((rule_config_filter(self._settings), 1))
            client.subscribe(filters)
            with self._lock:
                self._connected = True
                client.publish(self._topics.availability, "online", qos=1, retain=True)
                self._publish_mode()
                if self._rules is not None:
                    self._publish_discovery()
                for name in self._rule_states:
                    self._publish_rule_state(name)
                self._sent_upto = 0
                self._connected_at = time.time()
                backlog = self._journal.pending_count()
                if backlog:
                    log.warning("%s", replay_notice(backlog, self._journal.pending(limit=1)[0].alert))
                self._drain()
        except Exception:  # an exception escaping a callback would kill paho's network thread
            log.exception("MQTT: error while setting up the connection")

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        try:
            error = getattr(client, "last_error", None)
            reason = _describe(error) if error is not None else "no reason given"
            self._note_error(f"MQTT: cannot connect to {self._settings.address}: {reason}; retrying")
        except Exception:
            log.exception("MQTT: error in on_connect_fail")

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        try:
            with self._lock:
                was_connected, self._connected = self._connected, False
                closing = self._closing
            if was_connected and not closing:
                self._note_error(f"MQTT: lost the connection to {self._settings.address} ({reason}); reconnecting")
        except Exception:
            log.exception("MQTT: error in on_disconnect")

    def _note_error(self, message: str) -> None:
        """Warn once per distinct problem; repeats while retrying go to debug."""
        if message != self._last_error:
            log.warning("%s", message)
        else:
            log.debug("%s", message)
        self._last_error = message

    # -- alerts -------------------------------------------------------------------

    def _drain(self) -> None:
        """Hand every journaled alert not yet sent on this connection to paho, in order.

        Called with ``_lock`` held and connected.
        """
        for entry in self._journal.pending(after_seq=self._sent_upto):
            payload = alert_payload(entry.alert, entry.raised_at, self._connected_at, time.time(),
                                    self._settings.stale_after)  # fmt: skip
            for topic in (self._topics.alert, self._topics.rule_alert(entry.alert.rule)):
                started = self._clock()
                info = self._client.publish(topic, payload, qos=1)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    # The connection is gone; on_connect replays from the journal.
                    log.debug("MQTT: publish of alert %s deferred (%s)", entry.alert.id, mqtt.error_string(info.rc))
                    return
                self._expect_ack(info.mid, entry.alert.id, started)
            self._sent_upto = entry.seq

    def _expect_ack(self, mid: int, alert_id: str, published_at: float) -> None:
        with self._ack_lock:
            self._copies_left.setdefault(alert_id, _ALERT_COPIES)
            acked_at = self._early_acks.pop(mid, None)
            if acked_at is None or acked_at < published_at:
                self._awaiting[mid] = alert_id
                return
        self._count_ack(alert_id)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        # paho holds its message lock here: take only _ack_lock, never _lock.
        try:
            if getattr(reason, "is_failure", False):
                log.warning("MQTT: broker rejected message %d: %s", mid, reason)
                return
            with self._ack_lock:
                alert_id = self._awaiting.pop(mid, None)
                if alert_id is None:
                    self._early_acks[mid] = self._clock()
                    if len(self._early_acks) > 1000:  # acks of state messages nobody claims
                        self._early_acks.pop(next(iter(self._early_acks)))
                    return
            self._count_ack(alert_id)
        except Exception:
            log.exception("MQTT: error while recording a delivery")

    def _count_ack(self, alert_id: str) -> None:
        with self._ack_lock:
            left = self._copies_left.get(alert_id, 1) - 1
            if left > 0:
                self._copies_left[alert_id] = left
                return
            self._copies_left.pop(alert_id, None)
        self._journal.mark_delivered(alert_id)

    def _awaiting_any(self) -> bool:
        with self._ack_lock:
            return bool(self._awaiting)

    # -- retained state and discovery ---------------------------------------------

    def _publish_rule_state(self, name: str) -> None:
        state = "ON" if self._rule_states.get(name) else "OFF"
        self._client.publish(self._topics.rule_state(name), state, qos=1, retain=True)

    def _publish_mode(self) -> None:
        self._client.publish(self._topics.mode, self._mode, qos=1, retain=True)

    def _publish_discovery(self) -> None:
        if not self._settings.discovery or self._rules is None:
            return
        configs = discovery_configs(self._settings, self._topics, self._rules, self._version)
        for topic, config in configs.items():
            self._client.publish(topic, json.dumps(config), qos=1, retain=True)
        log.info("MQTT: published Home Assistant discovery for %d rules", len(self._rules))

    def _remove_stale_rules(self, candidates: set[str]) -> None:
        """Empty retained configs (and states) remove entities of rules no longer announced."""
        if self._rules is None or not self._settings.discovery:
            return
        current = {rule_id(rule.name) for rule in self._rules}
        for stale in sorted(candidates - current):
            log.info("MQTT: removing the Home Assistant entity of deleted rule %s", stale)
            self._client.publish(rule_config_topic(self._settings, stale), b"", qos=1, retain=True)
            self._client.publish(self._topics.rule_state(stale), b"", qos=1, retain=True)
        self._broker_rule_ids -= candidates - current

    # -- incoming -----------------------------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
            if topic == self._topics.mode_set:
                self._handle_mode_set(message.payload)
            elif topic == HA_STATUS_TOPIC:
                if message.payload == b"online":
                    log.info("MQTT: Home Assistant came online; re-publishing discovery")
                    with self._lock:
                        self._publish_discovery()
            else:
                rid = rule_id_from_config_topic(self._settings, topic)
                if rid is not None and message.payload:
                    with self._lock:
                        self._broker_rule_ids.add(rid)
                        self._remove_stale_rules({rid})
        except Exception:
            log.exception("MQTT: error while handling a message on %s", getattr(message, "topic", "?"))

    def _handle_mode_set(self, payload: bytes) -> None:
        requested = parse_mode(payload)
        with self._lock:
            if requested is None:
                report, held = self._mode_warnings.allow()
                if report:
                    shown = payload[:_LOGGED_PAYLOAD]
                    more = f" (+{len(payload) - _LOGGED_PAYLOAD} bytes)" if len(payload) > _LOGGED_PAYLOAD else ""
                    before = f"; {held} more were ignored without a warning before it" if held else ""
                    quiet = (f"; further ones are not logged for up to {self._mode_warnings.period:g} s"
                             if self._mode_warnings.exhausted else "")
                    log.warning(
                        "MQTT: ignored mode request %r%s on %s: expected one of %s; the mode stays %s%s%s",
                        shown, more, self._topics.mode_set, ", ".join(MODES), self._mode, before, quiet,
                    )  # fmt: skip
                self._publish_mode()
                return
            changed = requested != self._mode
            self._mode = requested
            self._publish_mode()
        if changed:
            log.info("MQTT: mode set to %s", requested)
        # Called for every valid request, even for the current mode: the owner's mode
        # logic (holds, schedules) decides what a request means.
        if self._on_mode_set is not None:
            try:
                self._on_mode_set(requested)
            except Exception:
                log.exception("MQTT: the mode-change handler failed")


_paho_log = logging.getLogger("monitor.mqtt.paho")


def _log_paho(client: mqtt.Client, userdata: object, level: int, message: str) -> None:
    """paho's own messages, at debug: the sink reports problems in the user's terms.

    paho logs packet flags, never the password (the TLS tests check this).
    """
    _paho_log.debug("%s", message)


def _describe(error: OSError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({error.verify_message}); check tls_ca_certs"
    if isinstance(error, ssl.SSLError):
        return f"TLS error ({error.reason or error})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the broker running and listening on that port?)"
    if isinstance(error, TimeoutError):
        return "timed out"
    return error.strerror or str(error) or type(error).__name__
