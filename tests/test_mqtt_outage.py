"""Alerts are never lost: a broker outage, and the publishing process killed mid-outage.

The subscriber keeps a persistent session (like Home Assistant's), so what the sink
delivers after the broker comes back reaches it even if it reconnects later.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from monitor.journal import Journal, journal_path
from monitor.mqtt import MqttSink, Topics
from tests.mqtt_fixtures import (  # noqa: F401  (broker is a fixture)
    Subscriber,
    broker,
    fast_settings,
    read_line_until,
    sink_process,
    wait_until,
)
from tests.test_mqtt import make_alert

T = Topics("sound-monitor/testnode")


def first_occurrences(messages) -> list[dict]:
    """Payloads in arrival order, duplicates (same alert id) dropped as a consumer would."""
    seen: set[str] = set()
    unique = []
    for message in messages:
        payload = json.loads(message.payload)
        if payload["id"] not in seen:
            seen.add(payload["id"])
            unique.append(payload)
    return unique


def test_alerts_raised_during_an_outage_arrive_in_order_once_the_broker_is_back(broker, tmp_path):
    consumer = Subscriber(broker, T.alert, client_id="consumer", session=True)
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected)
        sink.publish_alert(make_alert(-1))  # delivered before the outage
        assert wait_until(lambda: sink.backlog == 0)
        broker.stop()
        assert wait_until(lambda: not sink.connected)
        raised = [make_alert(n) for n in range(20)]
        for alert in raised:
            sink.publish_alert(alert)
        assert sink.backlog == 20
        broker.start()
        assert wait_until(lambda: sink.connected and sink.backlog == 0, timeout=20)
    assert consumer.wait_for(lambda s: len(first_occurrences(s.on(T.alert))) == 21, timeout=20)
    received = first_occurrences(consumer.on(T.alert))
    assert [p["id"] for p in received[1:]] == [a.id for a in raised]
    assert [p["message"] for p in received[1:]] == [a.message for a in raised]
    consumer.close()


@pytest.mark.timeout(90)
def test_alerts_survive_the_publisher_being_killed_before_it_could_deliver(broker, tmp_path):
    state = tmp_path / "state"
    consumer = Subscriber(broker, "sound-monitor/proc/alert", client_id="consumer", session=True)
    broker.stop()
    publisher = sink_process(["--port", str(broker.port), "--state-dir", str(state), "--raise", "20"])
    try:
        read_line_until(publisher, "raised")
        publisher.send_signal(signal.SIGKILL)
        publisher.wait(10)
    finally:
        publisher.kill()
    with Journal(journal_path(state)) as journal:
        owed = [entry.alert for entry in journal.pending()]
    assert [a.message for a in owed] == [f"alert {n}" for n in range(20)]

    broker.start()
    restarted = sink_process(["--port", str(broker.port), "--state-dir", str(state), "--until-delivered"])
    try:
        read_line_until(restarted, "delivered", timeout=30)
        assert restarted.wait(10) == 0
    finally:
        restarted.kill()
    assert consumer.wait_for(lambda s: len(first_occurrences(s.on("sound-monitor/proc/alert"))) == 20, timeout=20)
    received = first_occurrences(consumer.on("sound-monitor/proc/alert"))
    assert [p["id"] for p in received] == [a.id for a in owed]
    with Journal(journal_path(state)) as journal:
        assert journal.pending_count() == 0
    consumer.close()


def test_alerts_in_flight_when_the_broker_dies_are_resent_and_stale_states_are_not(broker, tmp_path):
    """Sent but never acknowledged: replayed after the reconnect; and the rule's
    retained state ends OFF (cleared during the outage), never the stale ON that was
    in flight -- the stuck-on sensor Frigate users had to restart to clear."""
    from monitor.alerts import AlertCleared
    from tests.mqtt_fixtures import retained

    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected)
        broker.freeze()
        in_flight = [make_alert(n) for n in range(3)]
        for alert in in_flight:
            sink.publish_alert(alert)  # written to the socket, never acknowledged
        time.sleep(0.2)
        assert sink.backlog == 3
        broker.crash()
        assert wait_until(lambda: not sink.connected)
        sink.publish_cleared(AlertCleared("door", "mic", in_flight[-1].id, 40.0, 1_700_000_040.0))
        broker.start()
        assert wait_until(lambda: sink.connected and sink.backlog == 0, timeout=20)
        assert all(entry.delivered_at for entry in journal.entries())
        time.sleep(0.3)  # let anything paho might still resend arrive
        assert retained(broker, T.rule_state("door")) == b"OFF"
