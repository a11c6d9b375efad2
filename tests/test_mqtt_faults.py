"""The MQTT sink under connection faults: never a hang, never a silent failure.

Real mosquitto on loopback; the faults are real clients and real listeners.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from monitor.journal import Journal
from monitor.mqtt import MqttSink, Topics
from monitor.mqtt import publisher
from monitor.mqtt.publisher import DISCOVERY_EVERY, HA_STATUS_TOPIC
from tests.mqtt_fixtures import Broker, Subscriber, broker, fast_settings, wait_until  # noqa: F401  (fixture)
from tests.test_mqtt import make_alert

BACKLOG = 800


class Usurper:
    """Connects with the sink's client id every ``interval`` s: the broker drops the sink each time,
    typically right after its CONNACK while it replays the backlog."""

    def __init__(self, broker: Broker, client_id: str, interval: float = 0.1) -> None:
        self._broker, self._client_id, self._interval = broker, client_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id)
            try:
                client.connect(self._broker.host, self._broker.port, keepalive=5)
                client.loop(0.02)
                client.disconnect()
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _owner_calls(sink: MqttSink, until: float, slowest: list[float]) -> None:
    """What the daemon's main thread does: raise alerts and publish state, timing each call."""
    n = BACKLOG
    while time.monotonic() < until:
        started = time.monotonic()
        sink.publish_alert(make_alert(n))
        slowest[0] = max(slowest[0], time.monotonic() - started)
        n += 1
        time.sleep(0.01)


@pytest.mark.timeout(300)
def test_a_backlog_replayed_through_repeated_takeovers_never_blocks_the_owner(broker, tmp_path):
    settings = fast_settings(broker, client_id="sink-under-test", reconnect_max_delay=0.2)
    for run in range(20):
        with Journal(tmp_path / f"j{run}.sqlite3") as journal:
            for n in range(BACKLOG):
                journal.append(make_alert(n))
            sink = MqttSink(settings, journal).start()
            usurper = Usurper(broker, settings.client_id)  # type: ignore[arg-type]
            slowest = [0.0]
            owner = threading.Thread(target=_owner_calls, args=(sink, time.monotonic() + 1.5, slowest), daemon=True)
            owner.start()
            owner.join(10)
            usurper.stop()
            assert not owner.is_alive(), f"run {run}: the owner's publish_alert hung (deadlock)"
            # An fsync'ed journal write on a loaded machine may take a while; a deadlock never returns.
            assert slowest[0] < 3.0, f"run {run}: a publish_alert took {slowest[0]:.2f} s"
            assert wait_until(lambda: sink.connected and sink.backlog == 0, timeout=30), f"run {run}: not drained"
            closer = threading.Thread(target=sink.close, daemon=True)
            closer.start()
            closer.join(10)
            assert not closer.is_alive(), f"run {run}: close() hung"


T = Topics("sound-monitor/testnode")


def test_a_retained_mode_request_is_ignored_and_not_reapplied_after_a_broker_restart(broker, tmp_path, caplog):  # noqa: F811
    modes: list[str] = []
    setter = Subscriber(broker, T.mode)
    setter.client.publish(T.mode_set, "away", qos=1, retain=True).wait_for_publish(5)  # a mistaken automation
    with Journal(tmp_path / "j.sqlite3") as journal:
        with caplog.at_level(logging.WARNING):
            sink = MqttSink(fast_settings(broker), journal, on_mode_set=modes.append).start()
            assert wait_until(lambda: sink.connected)
            setter.client.publish(T.mode_set, "night", qos=1).wait_for_publish(5)
            assert wait_until(lambda: modes == ["night"])
            broker.stop()
            broker.start()
            assert wait_until(lambda: sink.connected and len(caplog.records) >= 2, timeout=20)
            time.sleep(0.5)  # the retained request arrives right after the resubscription
            assert modes == ["night"] and sink.mode == "night"
            sink.close()
    noted = [r.getMessage() for r in caplog.records if "retained mode request" in r.getMessage()]
    assert len(noted) == 1  # once, not at every reconnect
    setter.close()


def test_a_flood_of_home_assistant_online_messages_gets_at_most_one_discovery_per_interval(broker, tmp_path):  # noqa: F811
    configs = Subscriber(broker, "homeassistant/#")
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(fast_settings(broker), journal) as sink:
        sink.announce_rules([("door", "knock", "warning")])
        assert wait_until(lambda: sink.connected)
        assert configs.wait_for(lambda s: s.on(f"homeassistant/select/testnode/mode/config"))
        flood = Subscriber(broker, "test/unused")
        started = time.monotonic()
        for _ in range(3000):
            flood.client.publish(HA_STATUS_TOPIC, "online", qos=0)
        time.sleep(DISCOVERY_EVERY + 1.5)
        elapsed = time.monotonic() - started
        flood.close()
    announced = len(configs.on("homeassistant/select/testnode/mode/config"))
    # The first at connect, then one per interval at most (the flood's last request is honoured).
    assert 2 <= announced <= 2 + elapsed / DISCOVERY_EVERY, announced
    configs.close()


def test_replay_skips_unreadable_rows_with_one_error_each_and_delivers_the_rest_in_order(broker, tmp_path, caplog):  # noqa: F811
    path = tmp_path / "j.sqlite3"
    alerts = [make_alert(n) for n in range(4)]
    with Journal(path) as journal:
        for alert in alerts:
            journal.append(alert)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alerts SET payload = '{\"rule\": \"door\"}' WHERE id = ?", (alerts[1].id,))
    consumer = Subscriber(broker, T.alert)
    with caplog.at_level(logging.ERROR), Journal(path) as journal, MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected and sink.backlog == 0)
        consumer.expect_resubscribe()
        broker.stop()  # replay again after a reconnect: still one error
        broker.start()
        assert wait_until(lambda: sink.connected)
        assert consumer.wait_subscribed()  # else the next alert can pass before the test listens again
        sink.publish_alert(later := make_alert(9))
        assert wait_until(lambda: sink.backlog == 0)
        # The broker's PUBACK to us can come before its delivery to the consumer.
        assert consumer.wait_for(lambda s: any(later.id in m.payload.decode() for m in s.on(T.alert)))
    received = [json.loads(m.payload)["id"] for m in consumer.on(T.alert)]
    expected = [alerts[0].id, alerts[2].id, alerts[3].id, later.id]
    assert list(dict.fromkeys(received)) == expected
    skipped = [r.getMessage() for r in caplog.records if "alert_skipped" in r.getMessage()]
    assert len(skipped) == 1 and alerts[1].id in skipped[0]
    consumer.close()


def test_an_alert_whose_rule_topic_is_too_long_still_goes_out_on_the_alert_topic(broker, tmp_path, caplog):  # noqa: F811
    consumer = Subscriber(broker, T.alert)
    huge = make_alert(0, rule="r" * 70_000)
    with caplog.at_level(logging.ERROR), Journal(tmp_path / "j.sqlite3") as journal:
        with MqttSink(fast_settings(broker), journal) as sink:
            assert wait_until(lambda: sink.connected)
            sink.publish_alert(huge)
            sink.publish_alert(after := make_alert(1))
            assert wait_until(lambda: sink.backlog == 0), sink.backlog
            assert sink.connected  # paho's network thread survived
    assert consumer.wait_for(lambda s: len(s.on(T.alert)) >= 2)  # PUBACK can precede delivery to the consumer
    assert [json.loads(m.payload)["id"] for m in consumer.on(T.alert)] == [huge.id, after.id]
    assert "cannot be published" in caplog.text
    consumer.close()


def test_an_owed_alert_whose_acknowledgement_is_lost_is_sent_again(broker, tmp_path, monkeypatch, caplog):  # noqa: F811
    monkeypatch.setattr(publisher, "RESEND_AFTER", 1.0)
    consumer = Subscriber(broker, T.alert)
    with caplog.at_level(logging.WARNING), Journal(tmp_path / "j.sqlite3") as journal:
        with MqttSink(fast_settings(broker), journal) as sink:
            assert wait_until(lambda: sink.connected)
            acknowledge = sink._client.on_publish
            sink._client.on_publish = lambda *args: None  # PUBACKs vanish, as in a storm of takeovers
            sink.publish_alert(alert := make_alert(0))
            assert consumer.wait_for(lambda s: s.on(T.alert))
            time.sleep(0.3)
            assert sink.backlog == 1  # delivered, but the sink cannot know
            sink._client.on_publish = acknowledge
            assert wait_until(lambda: sink.backlog == 0, timeout=10)
    assert consumer.wait_for(lambda s: len(s.on(T.alert)) >= 2)
    assert {json.loads(m.payload)["id"] for m in consumer.on(T.alert)} == {alert.id}
    assert "no acknowledgement for 1 owed alerts in 1 s; sending them again" in caplog.text
    consumer.close()
