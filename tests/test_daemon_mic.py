"""A microphone unplugged and plugged back while the daemon runs: it keeps running, reports the
outage in health and STATUS, keeps the watchdog fed (the outage is being handled) and resumes by itself."""

from __future__ import annotations

import time

import pytest

from daemon_support import DaemonProcess, write_config
from notify_socket import NotifySocket
from private_pulse import private_pulse  # noqa: F401 (fixture)


@pytest.mark.slow
def test_microphone_loss_is_reported_and_monitoring_resumes(tmp_path, tiny_model, private_pulse):  # noqa: F811
    notify = NotifySocket(tmp_path / "notify")
    config = write_config(tmp_path, tiny_model, "{id: mic, mic: pulse}")
    daemon = DaemonProcess(config, notify, watchdog_usec=2_000_000, env=private_pulse.env)
    try:
        notify.wait_for("READY", "1", timeout=20)
        notify.wait_for("WATCHDOG", "1", timeout=15)  # windows flow

        private_pulse.unplug()
        assert private_pulse.sources() == []
        down = daemon.wait_for_event("source_down", timeout=15)
        assert "source=mic" in down and "no audio" in down
        assert daemon.process.poll() is None  # still running
        deadline = time.monotonic() + 5
        while daemon.health().get("ok") is not False and time.monotonic() < deadline:
            time.sleep(0.2)
        health = daemon.health()
        assert health["ok"] is False and health["sources"]["mic"]["ok"] is False, health
        assert health["sources"]["mic"]["status"].startswith("no audio")
        status = notify.wait_for("STATUS", timeout=10)
        while "down: mic" not in status.fields["STATUS"]:
            status = notify.wait_for("STATUS", timeout=10, after=status)
        # A handled outage keeps the watchdog fed: restarting would not bring the microphone back.
        outage_start = time.monotonic()
        notify.poll(3.0)
        assert [m for m in notify.messages if "WATCHDOG" in m.fields and m.time > outage_start]

        private_pulse.plug()
        up = daemon.wait_for_event("source_up", timeout=40)
        assert "source=mic" in up
        windows_back = daemon.health().get("windows", 0)
        deadline = time.monotonic() + 15
        while daemon.health().get("windows", 0) < windows_back + 3 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert daemon.health()["windows"] >= windows_back + 3, daemon.log()  # monitoring resumed
        assert daemon.health()["sources"]["mic"]["restarts"] >= 1

        code, seconds = daemon.terminate()
        assert code == 0 and seconds < 5, daemon.log()
    finally:
        daemon.close()
        notify.close()
