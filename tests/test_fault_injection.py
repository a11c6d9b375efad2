"""One run of the daemon through every storage and broker fault at once; no alert raised is lost.

The real daemon (systemd-style subprocess) on a live stream (a FIFO fed in real time), a
real mosquitto, real files on a real size-limited filesystem. Faults, in order: SIGKILL inside a clip's post-roll and a
restart; a broker restart; the journal overwritten while running; the state filesystem
full, then freed; SIGTERM and a restart. Every alert any run raised (each is journaled
when raised: its ``alert_held`` line) must reach a subscriber with a persistent session,
deduplicated by id, and the daemon must still run (or restart) at the end.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time

import numpy as np
import pytest
import soundfile

from daemon_support import RATE, DaemonProcess, LiveStream, write_config
from daemon_support import RULES as BASE_RULES
from mqtt_fixtures import Subscriber, broker, wait_until  # noqa: F401 (fixture)
from signals import noise, tone, write
from small_fs import small_fs  # noqa: F401 (fixture)

PREFIX = "sound-monitor/testnode"
RULES = BASE_RULES.replace("cooldown: 30s", "cooldown: 2s").replace("clear_after: 3s", "clear_after: 1s")


def bursts(path, seconds: float = 150.0, every: float = 10.0, length: float = 3.0):
    """Quiet noise with a 300-Hz tone (``low``) of ``length`` s every ``every`` s: one alert each."""
    audio = noise(seconds, RATE, -50.0)
    for start in np.arange(4.0, seconds - length, every):
        a = int(start * RATE)
        audio[a : a + int(length * RATE)] += tone(300, length, RATE, 0.3)
    return write(path, audio.astype(np.float32), RATE)


def raised(log: str) -> list[str]:
    return [line.split(" id=")[1].split()[0] for line in log.splitlines() if "event=alert_held " in line]


def count_in(log: str, name: str) -> int:
    return sum(1 for line in log.splitlines() if f"event={name} " in line + " ")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_alert_survives_kills_broker_restarts_a_corrupted_journal_and_a_full_disk(
    tmp_path, tiny_model, broker, small_fs  # noqa: F811
):
    stream = LiveStream(tmp_path / "live.fifo", soundfile.read(bursts(tmp_path / "scene.wav"))[0])
    (tmp_path / "state").symlink_to(small_fs.path)
    config = write_config(
        tmp_path, tiny_model, f"{{id: room, url: '{stream.url}'}}",
        f"mqtt: {{host: {broker.host}, port: {broker.port}, node_id: testnode, state_interval: 0}}\n"
        "clips: {enabled: true, pre_seconds: 1, post_seconds: 4}\n", rules=RULES,
    )  # fmt: skip
    consumer = Subscriber(broker, f"{PREFIX}/alert", client_id="consumer", session=True)
    logs: list[str] = []

    def run() -> DaemonProcess:
        return DaemonProcess(config)

    def finish(daemon: DaemonProcess) -> None:
        logs.append(daemon.log())
        daemon.close()

    def delivered() -> set[str]:
        return {json.loads(m.payload)["id"] for m in consumer.on(f"{PREFIX}/alert")}

    # 1. SIGKILL inside the post-roll of the first alert.
    daemon = run()
    daemon.wait_for_event("alert_held", timeout=40)
    daemon.process.send_signal(signal.SIGKILL)
    daemon.process.wait(10)
    finish(daemon)

    # 2. Restarted: a broker restart, the journal overwritten under it, then a full disk.
    daemon = run()
    try:
        daemon.wait_for_event("alert", timeout=40)
        broker.stop()
        time.sleep(3)
        broker.start()
        assert wait_until(lambda: len(raised(daemon.log())) >= 2, 40)
        journal = tmp_path / "state" / "alerts.sqlite3"
        with sqlite3.connect(journal) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with open(journal, "r+b") as file:
            file.write(os.urandom(100))
        daemon.wait_for_event("journal_damaged", timeout=40)
        small_fs.fill()
        daemon.wait_for_event("journal_failing", timeout=40)
        held = len(raised(daemon.log()))
        assert wait_until(lambda: len(raised(daemon.log())) > held, 40)  # an alert while the disk is full
        small_fs.free()
        daemon.wait_for_event("journal_ok", timeout=30)
        assert daemon.process.poll() is None
        code, _ = daemon.terminate()
        assert code == 0
    finally:
        finish(daemon)

    # 3. Restartable at the end, and it delivers whatever was still owed.
    daemon = run()
    try:
        daemon.wait_for_event("ready", timeout=30)
        everything = {alert_id for log in logs for alert_id in raised(log)}
        assert consumer.wait_for(lambda s: everything <= delivered(), 30), everything - delivered()
        assert daemon.process.poll() is None
        code, _ = daemon.terminate()
        assert code == 0
    finally:
        finish(daemon)
    consumer.close()
    stream.close()

    every_log = "\n".join(logs)
    assert "Traceback" not in every_log
    assert count_in(every_log, "journal_damaged") == 1 and count_in(every_log, "journal_failing") >= 1
    assert len(everything) >= 4
