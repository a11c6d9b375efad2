"""The daemon and its storage: an alert is never lost and monitoring never switched off by the disk.

The real daemon process, real files, a real mosquitto and a real full or read-only
filesystem (tmpfs, tests/small_fs.py).
"""

from __future__ import annotations

import json
import os
import signal

import pytest
import soundfile

from daemon_support import DaemonProcess, LiveStream, scene, write_config
from monitor.journal import Journal, journal_path
from mqtt_fixtures import Subscriber, broker, wait_until  # noqa: F401 (fixture)
from small_fs import small_fs  # noqa: F401 (fixture)

PREFIX = "sound-monitor/testnode"


def mqtt_config(broker) -> str:  # noqa: F811
    return f"mqtt: {{host: {broker.host}, port: {broker.port}, node_id: testnode, state_interval: 0}}\n"


def alert_ids(subscriber: Subscriber) -> list[str]:
    return [json.loads(m.payload)["id"] for m in subscriber.on(f"{PREFIX}/alert")]


@pytest.mark.timeout(120)
def test_an_alert_killed_during_its_clips_post_roll_is_delivered_after_the_restart(tmp_path, tiny_model, broker, daemons):  # noqa: F811
    stream = LiveStream(tmp_path / "live.fifo", soundfile.read(scene(tmp_path / "scene.wav", 40, (6.0, 9.0)))[0])
    config = write_config(tmp_path, tiny_model, f"{{id: room, url: '{stream.url}'}}",
                          mqtt_config(broker) + "clips: {enabled: true, pre_seconds: 1, post_seconds: 20}\n")  # fmt: skip
    subscriber = Subscriber(broker, f"{PREFIX}/alert")
    daemon = DaemonProcess(config)
    daemons.append(daemon)
    held = daemon.wait_for_event("alert_held", timeout=40)
    alert_id = held.split(" id=")[1].split()[0]
    daemon.process.send_signal(signal.SIGKILL)  # inside the 20-s post-roll
    daemon.process.wait(10)
    assert alert_id not in alert_ids(subscriber)
    with Journal(journal_path(tmp_path / "state")) as journal:
        assert [e.alert.id for e in journal.pending()] == [alert_id]

    restarted = DaemonProcess(config)
    daemons.append(restarted)
    assert subscriber.wait_for(lambda s: alert_id in alert_ids(s), 30), restarted.log()
    code, _ = restarted.terminate()
    assert code == 0
    subscriber.close()
    stream.close()


def test_a_damaged_journal_is_moved_aside_and_said_so_in_the_log_health_and_status(tmp_path, tiny_model, notify, daemons):
    scene(tmp_path / "scene.wav", seconds=20, sound=(6.0, 9.0))
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav, realtime: true}")
    (tmp_path / "state").mkdir()
    journal = journal_path(tmp_path / "state")
    journal.write_bytes(os.urandom(8192))  # what a power cut can leave on an SD card
    daemon = DaemonProcess(config, notify)
    daemons.append(daemon)
    ready = notify.wait_for("READY", "1", timeout=30)
    assert "damaged journal moved aside to" in ready.fields["STATUS"]
    assert "event=journal_damaged" in daemon.wait_for_event("journal_damaged")
    aside = [p for p in journal.parent.iterdir() if p.name.startswith("alerts.sqlite3.damaged-")]
    assert len(aside) == 1 and aside[0].stat().st_size == 8192
    assert wait_until(lambda: daemon.health().get("journal", {}).get("moved_aside") == str(aside[0]), 10)
    daemon.wait_for_event("alert", timeout=30)
    code, _ = daemon.terminate()
    assert code == 0 and "Traceback" not in daemon.log()
    with Journal(journal) as fresh:
        assert [e.alert.rule for e in fresh.entries()] == ["low_sound"]


def test_a_state_directory_on_a_read_only_filesystem_is_one_fatal_line(tmp_path, tiny_model, small_fs, daemons):  # noqa: F811
    scene(tmp_path / "scene.wav", seconds=12)
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav}")
    config.write_text(config.read_text().replace("state_dir: state", f"state_dir: {small_fs.path / 'state'}"))
    small_fs.read_only()  # the state directory does not exist yet and cannot be created
    daemon = DaemonProcess(config)
    daemons.append(daemon)
    assert daemon.process.wait(30) == 2
    lines = daemon.log().strip().splitlines()
    assert "Traceback" not in daemon.log()
    assert any("state directory" in line and "Read-only file system" in line for line in lines), lines


def test_a_second_daemon_on_the_same_state_directory_exits_naming_the_first(tmp_path, tiny_model, daemons):
    scene(tmp_path / "scene.wav", seconds=60)
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav, realtime: true}")
    first = DaemonProcess(config)
    daemons.append(first)
    first.wait_for_event("model_loaded")
    second = DaemonProcess(config)
    daemons.append(second)
    assert second.process.wait(30) == 2
    assert f"another sound-monitor (PID {first.process.pid}) is already using the state directory" in second.log()
    assert "Traceback" not in second.log()
    assert first.process.poll() is None
    code, _ = first.terminate()
    assert code == 0


@pytest.mark.timeout(120)
def test_on_a_full_disk_alerts_are_published_health_says_failing_and_the_stop_is_clean(
    tmp_path, tiny_model, broker, small_fs, daemons  # noqa: F811
):
    scene(tmp_path / "scene.wav", seconds=30, sound=(8.0, 11.0))
    (tmp_path / "state").symlink_to(small_fs.path)
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav, realtime: true}",
                          mqtt_config(broker) + "clips: {enabled: true, pre_seconds: 1, post_seconds: 1}\n")  # fmt: skip
    subscriber = Subscriber(broker, f"{PREFIX}/#")
    daemon = DaemonProcess(config)
    daemons.append(daemon)
    daemon.wait_for_event("ready", timeout=30)
    small_fs.fill()
    assert subscriber.wait_for(lambda s: s.on(f"{PREFIX}/alert"), 40), daemon.log()
    health = lambda s: [json.loads(m.payload) for m in s.on(f"{PREFIX}/health")]  # noqa: E731
    assert subscriber.wait_for(lambda s: any(h["journal"]["state"] == "failing" for h in health(s)), 10)
    assert daemon.events("journal_failing") and daemon.events("health_not_written")
    code, _ = daemon.terminate()
    assert code == 0
    log = daemon.log()
    assert "Traceback" not in log and "event=stopped" in log
    assert subscriber.wait_for(lambda s: s.last_payload(f"{PREFIX}/availability") == b"offline", 5)
    subscriber.close()
