"""The MQTT sink: alerts, rule states, live state, health and mode over one paho client.

Takes :class:`~monitor.mqtt.settings.MqttSettings`, an :class:`~monitor.outbox.Outbox`
(or a bare :class:`~monitor.journal.Journal`) and the owner's calls (see
:mod:`monitor.mqtt` for the API); gives the topics in :mod:`monitor.mqtt.topics` and
Home Assistant discovery.

How delivery stays durable: :meth:`MqttSink.publish_alert` commits the alert to the
outbox first, then publishes every owed alert this connection has not sent yet, in
raise order. An alert is marked delivered when the broker has acknowledged (PUBACK)
every copy sent. On every connect the sink drops paho's own queue of unacknowledged
messages (it would resend stale retained states *after* the fresh ones) and replays
the outbox's undelivered alerts instead, so after an outage or a restart they arrive
in order, marked ``replayed`` (see :mod:`monitor.mqtt.delivery`); a copy sent just
before a connection broke may arrive twice, with the same ``id``. Alerts stored with
``deliver=False`` are published only as they happen. An alert that cannot be
published at all (payload too large) is skipped with one error naming its id.

Threads: one worker thread of the sink's own is the only one that publishes. The
owner's calls and paho's callbacks (on paho's network thread) only put jobs on its
queue and return, so no lock is ever held across a call into paho, and paho's
locks are never waited for by the owner (paho takes its message lock around our
``on_disconnect``: a sink lock taken there deadlocked the daemon). ``on_mode_set``
is called on the worker thread.
"""

from __future__ import annotations

import json
import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial

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
from monitor.outbox import Outbox
from monitor.predictions import Prediction
from monitor.throttle import Throttle

log = logging.getLogger(__name__)

HA_STATUS_TOPIC = "homeassistant/status"
DISCOVERY_EVERY = 5.0  # at most one discovery publication per this many seconds (HA status floods)
_TOP_LABELS = 3
_LOGGED_PAYLOAD = 40  # bytes of a rejected payload shown in the warning
_IDLE = 0.5  # seconds the worker sleeps when nothing is scheduled
# Owed alerts handed to paho that get no PUBACK at all for this long are handed over again: a storm of
# takeovers and reconnects can leave acknowledgements lost while the connection looks healthy.
RESEND_AFTER = 10.0


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
        outbox: Outbox | Journal,
        *,
        mode: str = "home",
        on_mode_set: Callable[[str], None] | None = None,
        version: str = __version__,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in MODES:
            raise UserError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self._settings = settings
        self._outbox = outbox if isinstance(outbox, Outbox) else Outbox(outbox.path, outbox)
        self._topics = Topics(settings.topic_prefix)  # type: ignore[arg-type]
        self._version = version
        self._clock = clock
        self._on_mode_set = on_mode_set
        self._mode_warnings = Throttle(clock=clock)  # a flood of bad requests must not flood the log
        self._mode = mode
        self._connected = False
        self._last_error: str | None = None
        self._last_state = float("-inf")
        self._last_health = float("-inf")
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="mqtt-sink", daemon=True)
        # Everything below belongs to the worker thread.
        self._rules: list[RuleInfo] | None = None  # None until announce_rules: nothing to prune yet
        self._rule_states: dict[str, bool] = {}  # rule name -> ON
        self._broker_rule_ids: set[str] = set()  # rule sensors whose configs the broker retains
        self._sent_upto = 0  # outbox seq already handed to paho on this connection
        self._generation = self._outbox.generation
        self._connected_at = float("inf")  # Unix time of the current connection (alerts raised before are replays)
        self._awaiting: dict[int, str] = {}  # mid -> alert id
        self._copies_left: dict[str, int] = {}  # alert id -> PUBACKs still missing
        self._acked_at = float("-inf")  # last PUBACK of an alert, or the last (re)send from the start
        self._unpublishable: set[str] = set()  # topics paho refused, reported once
        self._discovery_at = float("-inf")
        self._discovery_due: float | None = None
        self._socket_opened: float | None = None  # TCP up, CONNACK not yet
        self._retained_mode_noted = False
        self._closing: float | None = None  # deadline once close() began
        self._offline_mid: int | None = None
        self._done = threading.Event()
        self._client = self._make_client()

    # -- public API (any thread; each call only queues work) ------------------------

    def start(self) -> "MqttSink":
        """Start connecting in the background (returns at once; see :attr:`connected`)."""
        s = self._settings
        log.info("MQTT: connecting to %s as %s, prefix %s", s.address, s.client_id, s.topic_prefix)
        self._worker.start()
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
        """Alerts the broker has not acknowledged yet."""
        return self._outbox.pending_count()

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed (None once connected)."""
        return self._last_error

    @property
    def mode(self) -> str:
        return self._mode

    def publish_alert(self, alert: Alert, deliver: bool = True) -> None:
        """Store ``alert`` in the outbox (durable when this returns), set its rule ON, publish if connected.

        With ``deliver`` the outbox owes it to the broker until acknowledged (replayed after an
        outage or a restart); without (the demo, a recording) it is published now if connected
        and never later.
        """
        self._outbox.append(alert, deliver)
        self._jobs.put(partial(self._alert_raised, alert.rule, None if deliver else alert))

    def publish_cleared(self, cleared: AlertCleared) -> None:
        """The rule's sound is gone: its state goes OFF (retained)."""
        self._outbox.mark_cleared(cleared.alert_id, cleared.wall_time)
        self._jobs.put(partial(self._set_rule_state, cleared.rule, False))

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
        self._jobs.put(partial(self._send_if_connected, self._topics.state, json.dumps(payload)))
        return True

    def publish_health(self, health: dict[str, object]) -> bool:
        """``health`` plus the outbox backlog, at most once per ``health_interval``; True if sent."""
        now = self._clock()
        if not self._connected or now - self._last_health < self._settings.health_interval:
            return False
        self._last_health = now
        payload = {**health, "backlog": self.backlog}
        self._jobs.put(partial(self._send_if_connected, self._topics.health, json.dumps(payload, default=str)))
        return True

    def announce_rules(self, rules: Iterable[RuleInfo | tuple[str, str, object]]) -> None:
        """Declare the rule set: (re)publish discovery and remove entities of rules now gone."""
        infos = [RuleInfo.of(rule) for rule in rules]  # type: ignore[arg-type]
        ids: dict[str, str] = {}
        for info in infos:
            other = ids.setdefault(rule_id(info.name), info.name)
            if other != info.name:
                raise UserError(f"rules {other!r} and {info.name!r} map to the same MQTT topic; rename one")
        self._jobs.put(partial(self._announce, infos))

    def set_mode(self, mode: str) -> None:
        """The owner changed the mode (e.g. from the TUI): publish it, retained."""
        if mode not in MODES:
            raise UserError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        self._mode = mode
        self._jobs.put(self._publish_mode)

    def close(self, timeout: float = 5.0) -> None:
        """Publish ``offline``, wait up to ``timeout`` s for outstanding PUBACKs, disconnect."""
        if self._worker.is_alive():
            self._jobs.put(partial(self._begin_close, timeout))
            if not self._done.wait(timeout + 2.0):
                log.error("MQTT: the sink did not finish closing within %.0f s; disconnecting anyway", timeout + 2)
                self._client.disconnect()
        self._client.loop_stop()
        self._connected = False

    # -- the worker thread ----------------------------------------------------------

    def _work(self) -> None:
        while not self._done.is_set():
            try:
                job = self._jobs.get(timeout=self._next_wakeup())
            except queue.Empty:
                job = None
            try:
                if job is not None:
                    job()
                self._timers()
            except Exception:  # the worker must outlive any one bad job
                log.exception("MQTT: error in the sink's worker")

    def _next_wakeup(self) -> float:
        due = [t for t in (self._discovery_due, self._closing) if t is not None]
        if self._socket_opened is not None:
            due.append(self._socket_opened + self._settings.connect_timeout)
        return max(0.0, min([*due, self._clock() + _IDLE]) - self._clock())

    def _timers(self) -> None:
        now = self._clock()
        if self._discovery_due is not None and now >= self._discovery_due and self._connected:
            self._discovery_due = None
            self._publish_discovery()
        if self._socket_opened is not None and now - self._socket_opened >= self._settings.connect_timeout:
            self._socket_opened = None
            self._note_error(
                f"MQTT: {self._settings.address} accepted the connection but sent no CONNACK within "
                f"{self._settings.connect_timeout:g} s (is it a TLS port? set tls: true); retrying"
            )
        if self._connected and self._awaiting and now - self._acked_at >= RESEND_AFTER:
            log.warning("MQTT: no acknowledgement for %d owed alerts in %g s; sending them again",
                        len(set(self._awaiting.values())), RESEND_AFTER)
            self._awaiting.clear()
            self._copies_left.clear()
            self._sent_upto, self._acked_at = 0, now
            self._drain()
        if self._closing is not None:
            finished = not self._connected or (self._offline_mid is None and not self._awaiting)
            if finished or now >= self._closing:
                self._client.disconnect()
                self._done.set()

    def _begin_close(self, timeout: float) -> None:
        self._closing = self._clock() + timeout
        if self._connected:
            info = self._send(self._topics.availability, "offline", retain=True)
            self._offline_mid = info.mid if info is not None and info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS else None

    def _send(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo | None:
        """``client.publish``; None (reported once per topic) if paho refuses the topic or payload."""
        try:
            return self._client.publish(topic, payload, qos=qos, retain=retain)
        except ValueError as exc:  # "Publish topic is too long", "Payload too large"
            if topic not in self._unpublishable:
                self._unpublishable.add(topic)
                log.error("MQTT: cannot publish on %.80s: %s", topic, exc)
            return None

    def _send_if_connected(self, topic: str, payload: str) -> None:
        if self._connected:
            self._send(topic, payload, qos=0)

    # -- connection (paho callbacks queue; the worker acts) ---------------------------

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
        client.on_socket_open = self._on_socket_open
        return client

    def _on_socket_open(self, client: mqtt.Client, userdata: object, sock: object) -> None:
        self._jobs.put(partial(self._socket_up, self._clock()))

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        try:
            if getattr(reason, "is_failure", False):
                self._jobs.put(partial(self._refused, str(reason)))
                return
            # Stale copies would be resent after the fresh state; the outbox replays alerts.
            client.drop_out_messages()
            self._jobs.put(partial(self._connection_up, time.time()))
        except Exception:  # an exception escaping a callback would kill paho's network thread
            log.exception("MQTT: error in on_connect")

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        error = getattr(client, "last_error", None)
        reason = _describe(error) if error is not None else "no reason given"
        self._jobs.put(partial(self._connect_failed, reason))

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        self._jobs.put(partial(self._connection_down, str(reason)))

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        self._jobs.put(partial(self._acked, mid, str(reason) if getattr(reason, "is_failure", False) else None))

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            self._jobs.put(partial(self._received, message.topic, bytes(message.payload), bool(message.retain)))
        except Exception:
            log.exception("MQTT: error while receiving a message")

    def _socket_up(self, at: float) -> None:
        self._socket_opened = at  # the CONNACK should follow within connect_timeout

    def _refused(self, reason: str) -> None:
        self._socket_opened = None
        self._note_error(f"MQTT: broker {self._settings.address} refused the connection: {reason}")

    def _connect_failed(self, reason: str) -> None:
        self._socket_opened = None
        self._note_error(f"MQTT: cannot connect to {self._settings.address}: {reason}; retrying")

    def _connection_up(self, connected_at: float) -> None:
        self._socket_opened = None
        self._connected_at = connected_at
        self._awaiting.clear()
        self._copies_left.clear()
        self._acked_at = self._clock()
        log.info("MQTT: connected to %s", self._settings.address)
        self._last_error = None
        # Subscribing here restores the subscriptions after every reconnect.
        filters = [(self._topics.mode_set, 1), (HA_STATUS_TOPIC, 1)]
        if self._settings.discovery:
            filters.append((rule_config_filter(self._settings), 1))
        self._client.subscribe(filters)
        self._connected = True
        self._send(self._topics.availability, "online", retain=True)
        self._publish_mode()
        if self._rules is not None:
            self._publish_discovery()
        for name in self._rule_states:
            self._publish_rule_state(name)
        self._sent_upto = 0
        owed = self._outbox.pending()
        if owed:
            log.warning("%s", replay_notice(len(owed), owed[0].alert))
        self._drain()

    def _connection_down(self, reason: str) -> None:
        was_connected, self._connected = self._connected, False
        opened, self._socket_opened = self._socket_opened, None
        if self._closing is not None:
            return
        if was_connected:
            self._note_error(f"MQTT: lost the connection to {self._settings.address} ({reason}); reconnecting")
        elif opened is not None:
            self._note_error(
                f"MQTT: {self._settings.address} closed the connection before accepting it ({reason}; "
                "a TLS port without tls: true, or a client id in use?); retrying"
            )

    def _note_error(self, message: str) -> None:
        """Warn once per distinct problem; repeats while retrying go to debug."""
        if message != self._last_error:
            log.warning("%s", message)
        else:
            log.debug("%s", message)
        self._last_error = message

    # -- alerts -------------------------------------------------------------------

    def _alert_raised(self, rule: str, untracked: Alert | None) -> None:
        """Rule ON, then the owed alerts; an ``untracked`` one (not owed) is sent once, now or never."""
        self._rule_states[rule] = True
        if not self._connected:
            return
        self._publish_rule_state(rule)
        if untracked is None:
            self._drain()
            return
        now = time.time()
        payload = alert_payload(untracked, now, self._connected_at, now, self._settings.stale_after)
        for topic in (self._topics.alert, self._topics.rule_alert(rule)):
            self._send(topic, payload)

    def _drain(self) -> None:
        """Hand every owed alert not yet sent on this connection to paho, in order."""
        if not self._connected:
            return
        if self._outbox.generation != self._generation:  # renumbered: resend everything owed
            self._generation, self._sent_upto = self._outbox.generation, 0
        for entry in self._outbox.pending(after_seq=self._sent_upto):
            payload = alert_payload(entry.alert, entry.raised_at, self._connected_at, time.time(),
                                    self._settings.stale_after)  # fmt: skip
            sent = 0
            for topic in (self._topics.alert, self._topics.rule_alert(entry.alert.rule)):
                try:
                    info = self._client.publish(topic, payload, qos=1)
                except ValueError as exc:  # too large to ever publish; the other copy may still go
                    log.error("MQTT: alert %s cannot be published on %.80s: %s", entry.alert.id, topic, exc)
                    continue
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    # The connection is gone; the next connect replays from the outbox.
                    log.debug("MQTT: publish of alert %s deferred (%s)", entry.alert.id, mqtt.error_string(info.rc))
                    return
                self._awaiting[info.mid] = entry.alert.id
                sent += 1
            if sent:
                self._copies_left[entry.alert.id] = sent
            else:
                self._outbox.skip(entry.alert.id, "the broker cannot take it (payload or topic too large)")
            self._sent_upto = entry.seq

    def _acked(self, mid: int, failure: str | None) -> None:
        if mid == self._offline_mid:
            self._offline_mid = None
        alert_id = self._awaiting.pop(mid, None)
        if failure is not None:
            log.warning("MQTT: broker rejected message %d: %s", mid, failure)
            return
        if alert_id is None:
            return
        self._acked_at = self._clock()
        left = self._copies_left.get(alert_id, 1) - 1
        if left > 0:
            self._copies_left[alert_id] = left
            return
        self._copies_left.pop(alert_id, None)
        self._outbox.mark_delivered(alert_id)

    # -- retained state and discovery ---------------------------------------------

    def _set_rule_state(self, name: str, on: bool) -> None:
        self._rule_states[name] = on
        if self._connected:
            self._publish_rule_state(name)

    def _publish_rule_state(self, name: str) -> None:
        state = "ON" if self._rule_states.get(name) else "OFF"
        self._send(self._topics.rule_state(name), state, retain=True)

    def _publish_mode(self) -> None:
        if self._connected:
            self._send(self._topics.mode, self._mode, retain=True)

    def _announce(self, infos: list[RuleInfo]) -> None:
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

    def _publish_discovery(self) -> None:
        if not self._settings.discovery or self._rules is None:
            return
        self._discovery_at = self._clock()
        configs = discovery_configs(self._settings, self._topics, self._rules, self._version)
        for topic, config in configs.items():
            self._send(topic, json.dumps(config), retain=True)
        log.info("MQTT: published Home Assistant discovery for %d rules", len(self._rules))

    def _remove_stale_rules(self, candidates: set[str]) -> None:
        """Empty retained configs (and states) remove entities of rules no longer announced."""
        if self._rules is None or not self._settings.discovery:
            return
        current = {rule_id(rule.name) for rule in self._rules}
        for stale in sorted(candidates - current):
            log.info("MQTT: removing the Home Assistant entity of deleted rule %s", stale)
            self._send(rule_config_topic(self._settings, stale), b"", retain=True)
            self._send(self._topics.rule_state(stale), b"", retain=True)
        self._broker_rule_ids -= candidates - current

    # -- incoming -----------------------------------------------------------------

    def _received(self, topic: str, payload: bytes, retain: bool) -> None:
        if topic == self._topics.mode_set:
            if retain:
                # A retained request would be re-applied on every reconnect, long after it was meant.
                if not self._retained_mode_noted:
                    self._retained_mode_noted = True
                    log.warning(
                        "MQTT: ignored a retained mode request %r on %s; publish mode requests without retain",
                        payload[:_LOGGED_PAYLOAD],
                        topic,
                    )
                return
            self._handle_mode_set(payload)
        elif topic == HA_STATUS_TOPIC:
            if payload == b"online":
                self._home_assistant_online()
        else:
            rid = rule_id_from_config_topic(self._settings, topic)
            if rid is not None and payload:
                self._broker_rule_ids.add(rid)
                if self._connected:
                    self._remove_stale_rules({rid})

    def _home_assistant_online(self) -> None:
        """Re-announce, at most once per DISCOVERY_EVERY: a flood of ``online`` gets one more, later."""
        if self._clock() - self._discovery_at >= DISCOVERY_EVERY:
            log.info("MQTT: Home Assistant came online; re-publishing discovery")
            if self._connected:
                self._publish_discovery()
        elif self._discovery_due is None:
            self._discovery_due = self._discovery_at + DISCOVERY_EVERY

    def _handle_mode_set(self, payload: bytes) -> None:
        requested = parse_mode(payload)
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
