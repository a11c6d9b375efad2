"""Attached to the real daemon: ``run --config`` publishes to a real mosquitto, the dashboard watches."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from monitor.tui.app import MonitorApp
from monitor.tui.mqtt_feed import MqttFeed
from monitor.tui.widgets import AlertTable, LabelBars, StatusBar
from mqtt_fixtures import Broker, broker, fast_settings  # noqa: F401  (broker is a fixture)
from tui_support import rules_file, scene, until

REPO = Path(__file__).resolve().parents[1]


def test_dashboard_attached_to_the_daemon_sees_its_alert_and_sets_its_mode(
    tmp_path: Path, tiny_model: Path, broker: Broker  # noqa: F811
) -> None:
    scene(tmp_path / "scene.wav", hum=2.0, loud=6.0, after=10.0)
    rules_file(tmp_path / "rules.yaml")
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources:\n  - id: hall\n    file: scene.wav\n    realtime: true\n"
        f"model:\n  path: {tiny_model}\n"
        "hop: 0.5\nrules: rules.yaml\nstate_dir: state\nhealth_interval: 1\n"
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  node_id: testbox\n  state_interval: 0\n"
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    settings = fast_settings(broker, topic_prefix="sound-monitor/testbox")

    async def scenario() -> None:
        app = MonitorApp(MqttFeed(settings))
        async with app.run_test(size=(100, 30)) as pilot:
            status = app.query_one(StatusBar)
            table = app.query_one(AlertTable)
            bars = app.query_one(LabelBars)
            await until(pilot, lambda: table.row_count == 1, timeout=30)
            assert [str(c) for c in table.get_row_at(0)[2:4]] == ["high_tone", "high"]
            await until(pilot, lambda: bars.scores and bars.top()[0][0] == "high", timeout=10)
            assert status.mode == "home"
            assert "hall playing" in str(status.render()) and "daemon online" in str(status.render())
            await until(pilot, lambda: status.health.model == "tiny-test-model" and status.health.cpu is not None)
            await pilot.press("a")
            await until(pilot, lambda: status.mode == "away", timeout=10)  # the daemon's answer on <prefix>/mode
            await until(pilot, lambda: table.cleared, timeout=30)  # the tone ended: the daemon cleared its alert

    try:
        started = time.monotonic()
        asyncio.run(scenario())
        assert time.monotonic() - started < 40
    finally:
        daemon.terminate()
        output = daemon.communicate(timeout=15)[0]
    assert "event=mode mode=away" in output
