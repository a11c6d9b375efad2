"""The MQTT sink against a real mosquitto: availability, alerts, rule states, state, health, mode."""

from __future__ import annotations

import json
import logging
import random
import signal

import pytest

from monitor.alerts import Alert, AlertCleared, Severity
from monitor.journal import Journal
from monitor.mqtt import MqttSink, Topics
from monitor.predictions import Prediction
from tests.mqtt_fixtures import (  # noqa: F401  (broker is a fixture)
    Subscriber,
    broker,
    fast_settings,
    read_line_until,
    retained,
    sink_process,
    wait_until,
)

PREFIX = "sound-monitor/testnode"
T = Topics(PREFIX)


def make_alert(n: int = 0, rule: str = "door", severity: Severity = Severity.WARNING) -> Alert:
    return Alert(
        rule=rule,
        label="knock",
        labels=("knock", "door"),
        score=0.875,
        severity=severity,
        mode="away",
        source="mic",
        onset=10.0 + n,
        stream_time=15.0 + n,
        wall_time=1_700_000_000.0 + n,
        message=f"knock at the door #{n}",
    )


def alert_fields(payload: dict) -> dict:
    """A published alert without what delivery adds to it (replayed, age, stale)."""
    return {key: value for key, value in payload.items() if key not in ("replayed", "age", "stale")}


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "state" / "alerts.sqlite3") as j:
        yield j


@pytest.fixture
def modes():
    return []


@pytest.fixture
def sink(broker, journal, modes):
    s = MqttSink(fast_settings(broker), journal, on_mode_set=modes.append).start()
    assert wait_until(lambda: s.connected), s.last_error
    yield s
    s.close()


def test_birth_message_and_mode_are_retained(broker, journal):
    with MqttSink(fast_settings(broker), journal, mode="away") as sink:
        assert wait_until(lambda: sink.connected)
        assert retained(broker, T.availability) == b"online"
        assert retained(broker, T.mode) == b"away"


def test_close_publishes_offline_retained(broker, sink):
    sink.close()
    assert retained(broker, T.availability) == b"offline"


@pytest.mark.timeout(60)
def test_last_will_says_offline_when_the_process_is_killed(broker, tmp_path):
    process = sink_process(["--port", str(broker.port), "--state-dir", str(tmp_path / "s"), "--node-id", "testnode"])
    try:
        read_line_until(process, "connected")
        assert retained(broker, T.availability) == b"online"
        watcher = Subscriber(broker, T.availability)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert watcher.wait_for(lambda s: s.last_payload(T.availability) == b"offline")
        watcher.close()
        assert retained(broker, T.availability) == b"offline"
    finally:
        process.kill()
        process.wait()


def test_alert_is_published_as_json_on_both_topics_and_marked_delivered(broker, sink, journal):
    watcher = Subscriber(broker, T.alert, f"{PREFIX}/alert/#")
    alert = make_alert()
    sink.publish_alert(alert)
    assert watcher.wait_for(lambda s: s.on(T.alert) and s.on(T.rule_alert("door")))
    for message in (watcher.on(T.alert)[0], watcher.on(T.rule_alert("door"))[0]):
        assert not message.retain
        assert alert_fields(message.json()) == alert.to_json() and message.json()["replayed"] is False
        assert Alert.from_json(message.json()) == alert  # type: ignore[arg-type]
    assert wait_until(lambda: sink.backlog == 0)
    (entry,) = journal.entries()
    assert entry.alert == alert and entry.delivered_at is not None
    watcher.close()


def test_rule_state_goes_on_with_an_alert_and_off_when_it_clears(broker, sink, journal):
    sink.announce_rules([("door", "knock", Severity.WARNING)])
    assert wait_until(lambda: retained(broker, T.rule_state("door"), 1) == b"OFF")
    alert = make_alert()
    sink.publish_alert(alert)
    assert wait_until(lambda: retained(broker, T.rule_state("door"), 1) == b"ON")
    sink.publish_cleared(AlertCleared("door", "mic", alert.id, 30.0, 1_700_000_030.0))
    assert wait_until(lambda: retained(broker, T.rule_state("door"), 1) == b"OFF")
    assert journal.entries()[0].cleared_at == 1_700_000_030.0


def test_rule_state_is_not_stuck_on_after_a_reconnect(broker, sink):
    """A clear raised while the broker is down still turns the retained state OFF."""
    alert = make_alert()
    sink.publish_alert(alert)
    assert wait_until(lambda: retained(broker, T.rule_state("door"), 1) == b"ON")
    broker.stop()
    assert wait_until(lambda: not sink.connected)
    sink.publish_cleared(AlertCleared("door", "mic", alert.id, 30.0, 1_700_000_030.0))
    broker.start()
    assert wait_until(lambda: sink.connected)
    assert wait_until(lambda: retained(broker, T.rule_state("door"), 1) == b"OFF")


def test_live_state_carries_level_and_top_labels_and_is_throttled(broker, journal):
    watcher = Subscriber(broker, T.state)
    with MqttSink(fast_settings(broker, state_interval=0.5), journal) as sink:
        assert wait_until(lambda: sink.connected)
        prediction = Prediction("mic", 0.0, 5.0, 1_700_000_000.0, -23.456, {"a": 0.1, "b": 0.7, "c": 0.3, "d": 0.2})
        sent = [sink.publish_state(prediction) for _ in range(20)]
        assert sent.count(True) == 1
        assert watcher.wait_for(lambda s: s.on(T.state))
        payload = watcher.on(T.state)[0].json()
        assert payload["level_dbfs"] == -23.5
        assert [t["label"] for t in payload["top"]] == ["b", "c", "d"]
        assert payload["top"][0]["score"] == 0.7
        assert wait_until(lambda: sink.publish_state(prediction), timeout=2)
        assert watcher.wait_for(lambda s: len(s.on(T.state)) == 2)
    watcher.close()


def test_health_includes_the_backlog(broker, sink):
    watcher = Subscriber(broker, T.health)
    assert sink.publish_health({"source_ok": True, "overruns": 3, "model": "tiny.onnx"})
    assert watcher.wait_for(lambda s: s.on(T.health))
    assert watcher.on(T.health)[0].json() == {"source_ok": True, "overruns": 3, "model": "tiny.onnx", "backlog": 0}
    watcher.close()


def test_mode_set_by_a_publisher_changes_the_mode_and_is_republished(broker, sink, modes):
    watcher = Subscriber(broker, T.mode)
    watcher.client.publish(T.mode_set, "night", qos=1)
    assert wait_until(lambda: modes == ["night"])
    assert sink.mode == "night"
    assert watcher.wait_for(lambda s: s.last_payload(T.mode) == b"night")
    assert retained(broker, T.mode) == b"night"
    watcher.close()


def test_set_mode_from_the_owner_is_published_without_calling_back(broker, sink, modes):
    sink.set_mode("away")
    assert wait_until(lambda: retained(broker, T.mode, 1) == b"away")
    assert modes == []


def test_mode_subscription_survives_a_broker_restart(broker, sink, modes):
    broker.stop()
    assert wait_until(lambda: not sink.connected)
    broker.start()
    assert wait_until(lambda: sink.connected)
    publisher = Subscriber(broker, "unused/topic")
    publisher.client.publish(T.mode_set, "away", qos=1)
    assert wait_until(lambda: modes == ["away"])
    publisher.close()


def _invalid_mode_payloads() -> list[bytes]:
    rng = random.Random(5)
    payloads = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) for _ in range(10)]
    payloads = [p for p in payloads if p not in (b"home", b"away", b"night")]
    return payloads + [
        b"",
        b"A" * 1_000_000,
        b"away" * 100_000,
        b"Away",
        b"NIGHT",
        b" away",
        b"away\n",
        b'"away"',
        b'{"mode": "away"}',
        json.dumps(["night"]).encode(),
        "n\u00efght".encode(),
        b"\xff\xfeaway",
    ]


def test_invalid_mode_payloads_are_ignored_with_a_warning_and_the_mode_republished(broker, sink, modes, caplog):
    caplog.set_level(logging.WARNING, logger="monitor")
    watcher = Subscriber(broker, T.mode)
    assert watcher.wait_for(lambda s: s.on(T.mode))  # the retained current mode
    payloads = _invalid_mode_payloads()
    for payload in payloads:
        watcher.client.publish(T.mode_set, payload, qos=1)
    assert watcher.wait_for(lambda s: len(s.on(T.mode)) == 1 + len(payloads), timeout=20)
    assert {m.payload for m in watcher.on(T.mode)} == {b"home"}
    assert modes == [] and sink.mode == "home"
    warnings = [r for r in caplog.records if "ignored mode request" in r.getMessage()]
    assert len(payloads) > 10 and len(warnings) == 10  # a burst of warnings, then quiet for a while
    assert "further ones are not logged for up to 60 s" in warnings[-1].getMessage()
    assert all(len(r.getMessage()) < 400 for r in warnings)  # a huge payload is not dumped into the log
    # still listening: a valid request after all that garbage works
    watcher.client.publish(T.mode_set, b"away", qos=1)
    assert wait_until(lambda: modes == ["away"])
    watcher.close()


def test_a_flood_of_invalid_mode_requests_writes_ten_warnings_not_ten_thousand(broker, sink, modes, caplog):
    caplog.set_level(logging.WARNING, logger="monitor")
    flooder = Subscriber(broker, T.mode)
    for i in range(10_000):
        flooder.client.publish(T.mode_set, f"vacation {i}", qos=1)
    flooder.client.publish(T.mode_set, b"away", qos=1)
    assert wait_until(lambda: modes == ["away"], timeout=60)
    assert len([r for r in caplog.records if "ignored mode request" in r.getMessage()]) == 10
    flooder.close()


def test_mqtt5_delivers_alerts_takes_mode_requests_and_leaves_a_will(broker, journal, modes, tmp_path):
    watcher = Subscriber(broker, T.alert, T.availability)
    sink = MqttSink(fast_settings(broker, protocol="5"), journal, on_mode_set=modes.append).start()
    try:
        assert wait_until(lambda: sink.connected), sink.last_error
        alert = make_alert()
        sink.publish_alert(alert)
        assert watcher.wait_for(lambda s: s.on(T.alert))
        assert alert_fields(watcher.on(T.alert)[0].json()) == alert.to_json()
        assert wait_until(lambda: sink.backlog == 0)
        watcher.client.publish(T.mode_set, "away", qos=1)
        assert wait_until(lambda: modes == ["away"])
    finally:
        sink.close()
    assert watcher.wait_for(lambda s: s.last_payload(T.availability) == b"offline")
    watcher.close()


def test_a_request_for_the_current_mode_still_reaches_the_owner(broker, sink, modes):
    publisher = Subscriber(broker, T.mode)
    publisher.client.publish(T.mode_set, "home", qos=1)
    assert wait_until(lambda: modes == ["home"])
    publisher.close()


def test_an_alert_is_kept_in_memory_and_published_when_the_journal_cannot_be_written(broker, journal, caplog):
    watcher = Subscriber(broker, T.alert)
    with MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected)
        journal.close()  # from now on every write fails, like a full or failing disk
        alert = make_alert()
        with caplog.at_level(logging.ERROR, logger="monitor"):
            sink.publish_alert(alert)
            sink.publish_cleared(AlertCleared("door", "mic", alert.id, 30.0, 1_700_000_030.0))
        assert watcher.wait_for(lambda s: s.on(T.alert))
        assert alert_fields(watcher.on(T.alert)[0].json()) == alert.to_json()
        assert wait_until(lambda: retained(broker, T.rule_state("door"), 1) == b"OFF")
        assert "event=journal_failing" in caplog.text and "kept in memory" in caplog.text
        assert wait_until(lambda: sink.backlog == 0)  # acknowledged: delivered, though never journaled
    watcher.close()
