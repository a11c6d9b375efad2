"""Only real alerts reach the house: what a later run replays, and how a replay looks.

Alerts of a run without MQTT, of the demo and of recordings are journaled but never owed
to the broker, so a later daemon never sends them as if they had just happened. Alerts
owed from an outage or an earlier run are replayed with a log line, their original time
and ``replayed`` / ``age`` / ``stale`` in the payload.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import replace
from datetime import datetime

from conftest import run_cli
from daemon_support import RULES, scene
from monitor.journal import Journal, journal_path
from monitor.mqtt import MqttSink, Topics
from tests.mqtt_fixtures import Subscriber, broker, fast_settings, wait_until  # noqa: F401  (broker: fixture)
from tests.test_mqtt import make_alert

T = Topics("sound-monitor/testnode")


def alerts_json(state_dir) -> list[dict]:
    listed = run_cli("alerts", "--json", "--state-dir", str(state_dir))
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_alerts_of_a_run_without_mqtt_are_kept_but_never_replayed_by_a_later_daemon(tmp_path, tiny_model, broker):
    scene(tmp_path / "scene.wav", seconds=16, sound=(6.0, 9.0))
    (tmp_path / "rules.yaml").write_text(RULES)
    state = tmp_path / "state"
    ran = run_cli("run", "--source", str(tmp_path / "scene.wav"), "--model", str(tiny_model),
                  "--rules", str(tmp_path / "rules.yaml"), "--state-dir", str(state))  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    (kept,) = alerts_json(state)
    assert kept["rule"] == "low_sound" and kept["deliver"] is False and kept["delivered_at"] is None

    consumer = Subscriber(broker, T.alert)
    with Journal(journal_path(state)) as journal, MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected)
        assert sink.backlog == 0
        time.sleep(1.0)  # what a replay would have sent by now
    assert consumer.on(T.alert) == []
    consumer.close()


def test_a_recording_with_mqtt_is_published_as_it_happens_and_never_again(tmp_path, tiny_model, broker):
    scene(tmp_path / "scene.wav", seconds=16, sound=(6.0, 9.0))
    (tmp_path / "rules.yaml").write_text(RULES)
    state = tmp_path / "state"
    consumer = Subscriber(broker, T.alert)
    ran = run_cli("run", "--source", str(tmp_path / "scene.wav"), "--model", str(tiny_model),
                  "--rules", str(tmp_path / "rules.yaml"), "--state-dir", str(state),
                  "--mqtt", f"{broker.host}:{broker.port}", "--mqtt-prefix", "sound-monitor/testnode")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert consumer.wait_for(lambda s: s.on(T.alert), 10)
    (live,) = [m.json() for m in consumer.on(T.alert)]
    assert live["rule"] == "low_sound" and live["replayed"] is False and live["stale"] is False
    (kept,) = alerts_json(state)
    assert kept["id"] == live["id"] and kept["deliver"] is False

    with Journal(journal_path(state)) as journal, MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected)
        time.sleep(1.0)
    assert len(consumer.on(T.alert)) == 1
    consumer.close()


def test_a_replay_is_logged_and_each_alert_keeps_its_time_and_says_it_is_replayed(tmp_path, broker, caplog):
    now = time.time()
    raised = replace(make_alert(0), wall_time=now - 665)
    old = replace(make_alert(1), wall_time=now - 7200)
    with Journal(tmp_path / "j.sqlite3", clock=lambda: now - 660) as journal:  # an earlier run, 11 min ago
        journal.append(raised)
        journal.append(old)
    consumer = Subscriber(broker, T.alert)
    caplog.set_level(logging.INFO, logger="monitor.mqtt")
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(fast_settings(broker), journal) as sink:
        assert wait_until(lambda: sink.connected and sink.backlog == 0)
        sink.publish_alert(fresh := make_alert(2))
        assert consumer.wait_for(lambda s: len(s.on(T.alert)) == 3)
    first = datetime.fromtimestamp(now - 665).isoformat(sep=" ", timespec="seconds")
    assert f"MQTT: replaying 2 undelivered alerts from {first}" in caplog.text
    payloads = {m.json()["id"]: m.json() for m in consumer.on(T.alert)}
    assert payloads[raised.id]["wall_time"] == raised.wall_time and payloads[raised.id]["replayed"] is True
    assert 660 <= payloads[raised.id]["age"] < 700 and payloads[raised.id]["stale"] is False
    assert payloads[old.id]["replayed"] is True and payloads[old.id]["stale"] is True  # past stale_after (1 h)
    assert payloads[fresh.id]["replayed"] is False
    consumer.close()


def test_a_journal_from_before_per_alert_delivery_still_owes_its_undelivered_alerts(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    owed = make_alert(0)
    with sqlite3.connect(path) as db:  # schema 1, as sound-monitor 0.1 wrote it
        db.executescript(
            "CREATE TABLE alerts (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, rule TEXT NOT NULL,"
            " wall_time REAL NOT NULL, payload TEXT NOT NULL, raised_at REAL NOT NULL, delivered_at REAL,"
            " cleared_at REAL); PRAGMA user_version=1;")
        db.execute("INSERT INTO alerts (id, rule, wall_time, payload, raised_at) VALUES (?, ?, ?, ?, ?)",
                   (owed.id, owed.rule, owed.wall_time, json.dumps(owed.to_json()), owed.wall_time))  # fmt: skip
    db.close()
    with Journal(path) as journal:
        assert [entry.alert for entry in journal.pending()] == [owed] and journal.pending()[0].deliver
        journal.append(kept := make_alert(1), deliver=False)
        assert journal.pending_count() == 1 and [e.alert.id for e in journal.entries()] == [owed.id, kept.id]
