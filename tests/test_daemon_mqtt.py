"""The daemon and a real mosquitto: alerts with their clip path, health with the backlog, offline on SIGTERM."""

from __future__ import annotations

import json
import time
from pathlib import Path

from daemon_support import RULES, DaemonProcess, scene, write_config
from mqtt_fixtures import Subscriber, broker  # noqa: F401 (fixture)


def test_alerts_health_and_availability_reach_the_broker(tmp_path, tiny_model, broker):  # noqa: F811
    scene(tmp_path / "scene.wav", seconds=20, sound=(6.0, 9.0))
    prefix = "sound-monitor/testnode"
    subscriber = Subscriber(broker, f"{prefix}/#")
    config = write_config(
        tmp_path, tiny_model, "{id: room, file: scene.wav, realtime: true}",
        f"mqtt: {{host: {broker.host}, port: {broker.port}, node_id: testnode, state_interval: 0}}\n"
        "clips: {enabled: true, pre_seconds: 1, post_seconds: 1}\n",
    )  # fmt: skip
    daemon = DaemonProcess(config)
    try:
        assert subscriber.wait_for(lambda s: s.last_payload(f"{prefix}/availability") == b"online", 20)
        assert subscriber.wait_for(lambda s: s.on(f"{prefix}/alert"), 25), daemon.log()
        alert = subscriber.on(f"{prefix}/alert")[0].json()
        assert alert["rule"] == "low_sound" and alert["source"] == "room"
        assert alert["clip_path"] and Path(alert["clip_path"]).is_file()
        assert subscriber.wait_for(lambda s: s.last_payload(f"{prefix}/rule/low_sound/state") == b"ON", 5)
        assert subscriber.wait_for(lambda s: s.on(f"{prefix}/health"), 5)
        # The alert's PUBACKs are counted a moment after it reaches subscribers: the backlog empties.
        assert subscriber.wait_for(lambda s: json.loads(s.on(f"{prefix}/health")[-1].payload)["backlog"] == 0, 5)
        health = json.loads(subscriber.on(f"{prefix}/health")[-1].payload)
        assert health["sources"]["room"]["ok"] is True and health["journal"]["state"] == "ok"
        assert health["mode"] == "home" and health["windows"] > 0 and health["model"] == "tiny-test-model"
        cpus = [json.loads(m.payload).get("cpu") for m in subscriber.on(f"{prefix}/health")]
        assert any(isinstance(c, float) and 0 <= c < 2 for c in cpus)  # cores used by the daemon
        assert subscriber.on(f"{prefix}/state")  # live level and top labels
        # Home Assistant sets the mode: the rules follow it and health reports it.
        subscriber.client.publish(f"{prefix}/mode/set", "away", qos=1)
        assert subscriber.wait_for(lambda s: s.last_payload(f"{prefix}/mode") == b"away", 5)
        assert subscriber.wait_for(lambda s: json.loads(s.on(f"{prefix}/health")[-1].payload)["mode"] == "away", 5)
        code, seconds = daemon.terminate()
        assert code == 0 and seconds < 5, daemon.log()
        assert subscriber.wait_for(lambda s: s.last_payload(f"{prefix}/availability") == b"offline", 5)
        # A restart (crash, reboot, update) keeps the mode Home Assistant set.
        daemon.close()
        seen = len(subscriber.on(f"{prefix}/health"))
        daemon = DaemonProcess(config)
        assert subscriber.wait_for(lambda s: len(s.on(f"{prefix}/health")) > seen, 20), daemon.log()
        assert json.loads(subscriber.on(f"{prefix}/health")[seen].payload)["mode"] == "away"
        assert "mode_restored" in daemon.log()
    finally:
        daemon.close()
        subscriber.close()


def test_a_reload_whose_rules_would_share_an_mqtt_topic_keeps_the_running_rules(tmp_path, tiny_model, broker):  # noqa: F811
    scene(tmp_path / "a.wav", seconds=40, sound=(30.0, 33.0))
    scene(tmp_path / "b.wav", seconds=40, sound=(30.0, 33.0))
    (tmp_path / "b-rules.yaml").write_text(RULES.replace("low_sound", "b_low"))
    config = write_config(
        tmp_path, tiny_model, "{id: a, file: a.wav, realtime: true}\n  - {id: b, file: b.wav, realtime: true, "
        f"rules: b-rules.yaml}}", f"mqtt: {{host: {broker.host}, port: {broker.port}, node_id: testnode}}\n")
    daemon = DaemonProcess(config)
    try:
        daemon.wait_for_event("ready")
        (tmp_path / "b-rules.yaml").write_text(RULES.replace("low_sound", "low sound"))  # the topic of file a's rule
        failed = daemon.wait_for_event("rules_reload_failed", timeout=10)
        assert "b-rules.yaml:4: rule 'low sound' and rule 'low_sound' of " in failed
        assert "map to the same MQTT topic .../alert/low_sound" in failed
        (tmp_path / "rules.yaml").write_text(RULES + "  - {name: a b, sound: mid}\n  - {name: a/b, sound: mid}\n")
        deadline = time.monotonic() + 10
        while len(daemon.events("rules_reload_failed")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "rules.yaml:11: rules 'a b' (line 10) and 'a/b' map to the same MQTT topic" in \
            daemon.events("rules_reload_failed")[-1], daemon.log()
        (tmp_path / "b-rules.yaml").write_text(RULES.replace("low_sound", "b_low2"))
        assert "reloaded 1 rules" in daemon.wait_for_event("rules_reloaded", timeout=10)
        code, _ = daemon.terminate()
        assert code == 0 and "housekeeping_error" not in daemon.log(), daemon.log()
    finally:
        daemon.close()
