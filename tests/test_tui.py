"""The dashboard driven like a person would (Textual's pilot), in process and attached over MQTT."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from monitor.alerts import Severity
from monitor.audio.open import open_source
from monitor.journal import Journal
from monitor.model.runner import ModelRunner
from monitor.rules import Engine, load_rules
from monitor.tui.app import MonitorApp
from monitor.tui.local_feed import LocalFeed
from monitor.tui.messages import Heard
from monitor.tui.screens import AlertDetail, HelpScreen
from monitor.tui.widgets import AlertTable, LabelBars, LevelMeter, RulesPanel, StatusBar
from mqtt_fixtures import Broker, Subscriber, broker, fast_settings  # noqa: F401  (broker is a fixture)
from tui_support import T0, ReplayFeed, alert, replay_messages, rules_file, scene, until


def local_feed(tmp_path: Path, tiny_model: Path, hop: float = 1.0, journal: Journal | None = None,
               **scene_args: float) -> LocalFeed:
    model = ModelRunner(tiny_model)
    engine = Engine(load_rules(rules_file(tmp_path / "rules.yaml"), model.labels, model.metadata.thresholds))
    source = open_source(str(scene(tmp_path / "scene.wav", **scene_args)), model.metadata.features.sample_rate)
    return LocalFeed(source, model, engine, hop, journal=journal)


def test_in_process_a_high_tone_tops_the_bars_and_raises_an_alert(tmp_path: Path, tiny_model: Path) -> None:
    async def scenario() -> None:
        app = MonitorApp(local_feed(tmp_path, tiny_model, after=0.0))
        async with app.run_test(size=(100, 30)) as pilot:
            status = app.query_one(StatusBar)
            await until(pilot, lambda: status.ended is not None)
            await pilot.pause(0.1)
            bars = app.query_one(LabelBars)
            assert bars.top()[0][0] == "high"
            assert "high" in str(bars.render())
            table = app.query_one(AlertTable)
            assert table.row_count == 1
            assert [str(c) for c in table.get_row_at(0)[2:4]] == ["high_tone", "high"]
            assert status.ended == ("scene.wav: end of input", False)
            assert app.query_one(LevelMeter).level is not None
            assert "high_tone" in str(app.query_one(RulesPanel).render())

    asyncio.run(scenario())


def test_the_standalone_dashboard_journals_its_alerts_as_run_does(tmp_path: Path, tiny_model: Path) -> None:
    path = tmp_path / "state" / "alerts.sqlite3"

    async def scenario() -> None:
        app = MonitorApp(local_feed(tmp_path, tiny_model, journal=Journal(path), after=0.0))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.query_one(StatusBar).ended is not None)

    asyncio.run(scenario())
    with Journal(path) as journal:
        (entry,) = journal.entries()
    assert entry.alert.rule == "high_tone" and entry.deliver is False and entry.cleared_at is not None


def test_mode_keys_change_the_engines_mode(tmp_path: Path, tiny_model: Path) -> None:
    feed = local_feed(tmp_path, tiny_model)

    async def scenario() -> None:
        app = MonitorApp(feed)
        async with app.run_test() as pilot:
            status = app.query_one(StatusBar)
            await until(pilot, lambda: status.mode == "home")
            for key, mode in (("a", "away"), ("n", "night"), ("h", "home")):
                await pilot.press(key)
                await until(pilot, lambda: status.mode == mode)
                assert feed.engine.mode_state().mode == mode
                assert mode.upper() in str(status.render())
                rules = app.query_one(RulesPanel)
                await until(pilot, lambda: rules.states["hum_at_night"].enabled == (mode == "night"))
                assert ("off now" in str(rules.render())) == (mode != "night")

    asyncio.run(scenario())


def test_help_opens_and_closes_with_keys_and_the_mouse() -> None:
    async def scenario() -> None:
        app = MonitorApp(ReplayFeed(replay_messages()))
        async with app.run_test() as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            await pilot.click("Footer", offset=(37, 0))  # the "? help" key in the footer
            assert isinstance(app.screen, HelpScreen)
            await pilot.click(offset=(1, 1))
            assert not isinstance(app.screen, HelpScreen)

    asyncio.run(scenario())


def test_selecting_an_alert_shows_its_details_and_saves_its_clip(tmp_path: Path, monkeypatch) -> None:
    clip = tmp_path / "clip.flac"
    clip.write_bytes(b"evidence")
    (tmp_path / "saved").mkdir()
    monkeypatch.chdir(tmp_path / "saved")
    feed = ReplayFeed([alert("x1", "glass_break", "glass_breaking", 0.9, Severity.CRITICAL, T0, str(clip))])

    async def scenario() -> None:
        app = MonitorApp(feed)
        async with app.run_test() as pilot:
            table = app.query_one(AlertTable)
            await until(pilot, lambda: table.row_count == 1)
            await pilot.press("enter")
            assert isinstance(app.screen, AlertDetail)
            text = str(app.screen.query_one("#alert-detail").render())
            assert str(clip) in text and "glass_break" in text and "critical" in text
            assert "sound began 10.00 s, fired 12.00 s, 1 windows 10.00–15.00 s" in text
            await pilot.press("s")
            assert (tmp_path / "saved" / "glass_break-x1.flac").read_bytes() == b"evidence"
            await pilot.press("escape")
            assert not isinstance(app.screen, AlertDetail)
            await pilot.click(AlertTable, offset=(3, 2))  # a click on the row opens it too
            assert isinstance(app.screen, AlertDetail)
            await pilot.click(offset=(0, 0))
            assert not isinstance(app.screen, AlertDetail)

    asyncio.run(scenario())


def test_duplicate_alerts_show_once_and_newest_is_on_top() -> None:
    messages = [alert("a", "r1", "x", 0.5, Severity.INFO, T0), alert("b", "r2", "y", 0.6, Severity.WARNING, T0 + 1),
                alert("a", "r1", "x", 0.5, Severity.INFO, T0)]

    async def scenario() -> None:
        app = MonitorApp(ReplayFeed(messages))
        async with app.run_test() as pilot:
            table = app.query_one(AlertTable)
            await pilot.pause(0.2)
            assert table.row_count == 2
            assert str(table.get_row_at(0)[2]) == "r2"

    asyncio.run(scenario())


def test_alerts_are_listed_by_when_they_were_raised_newest_first_whatever_order_they_arrive_in() -> None:
    # "late" fired at T0 + 40 but arrives first (held for its clip's post-roll, or replayed after an outage).
    late = alert("late", "r1", "x", 0.5, Severity.INFO, T0 + 30)
    early = alert("early", "r2", "y", 0.6, Severity.WARNING, T0)
    newest = alert("newest", "r3", "z", 0.7, Severity.CRITICAL, T0 + 60)

    async def scenario() -> None:
        app = MonitorApp(ReplayFeed([late, early, newest]))
        async with app.run_test(size=(80, 24)) as pilot:
            table = app.query_one(AlertTable)
            await until(pilot, lambda: table.row_count == 3)
            rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(3)]
            assert [row[2] for row in rows] == ["r3", "r1", "r2"]
            assert [row[1] for row in rows] == ["critical", "info", "warning"]  # visible even at 80 columns
            raised = datetime.fromtimestamp(T0 + 30 + 2.0).strftime("%H:%M:%S")  # onset + (fired - onset)
            assert rows[1][0] == raised

    asyncio.run(scenario())


def test_attached_after_the_daemon_goes_offline_no_source_plays_and_no_rule_is_active(broker: Broker) -> None:  # noqa: F811
    from monitor.tui.mqtt_feed import MqttFeed

    settings = fast_settings(broker, topic_prefix="sound-monitor/box")
    prefix = "sound-monitor/box"
    daemon = publisher(broker)
    for topic, payload in ((f"{prefix}/availability", "online"), (f"{prefix}/rule/glass_break/state", "ON")):
        daemon.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)

    async def scenario() -> None:
        app = MonitorApp(MqttFeed(settings))
        async with app.run_test(size=(100, 30)) as pilot:
            status, rules = app.query_one(StatusBar), app.query_one(RulesPanel)
            # The retained rule state arriving means the feed has subscribed: only then can a plain
            # (not retained) health message reach it.
            await until(pilot, lambda: rules.states.get("glass_break") and rules.states["glass_break"].state == "active")
            daemon.publish(f"{prefix}/health", json.dumps({"sources": {"mic": {"ok": True, "status": "playing"}}}))
            await until(pilot, lambda: status.health.sources and status.health.sources[0].ok, timeout=10)
            daemon.publish(f"{prefix}/availability", "offline", qos=1, retain=True)  # its last will
            await until(pilot, lambda: rules.states["glass_break"].state == "offline", timeout=10)
            await until(pilot, lambda: not status.health.sources[0].ok, timeout=10)
            assert status.health.sources[0].status == "daemon offline"

    try:
        asyncio.run(scenario())
    finally:
        daemon.disconnect()
        daemon.loop_stop()


def test_pause_freezes_the_live_display_but_not_the_alerts() -> None:
    feed = ReplayFeed([])

    async def scenario() -> None:
        app = MonitorApp(feed)
        async with app.run_test() as pilot:
            meter = app.query_one(LevelMeter)
            app.post_message(Heard("s", 1.0, -30.0, {"a": 0.5}, False))
            await until(pilot, lambda: meter.level == -30.0)
            await pilot.press("p")
            assert "PAUSED" in str(app.query_one(StatusBar).render())
            app.post_message(Heard("s", 2.0, -10.0, {"a": 0.9}, False))
            app.post_message(alert("z", "r", "a", 0.9, Severity.CRITICAL, T0))
            await until(pilot, lambda: app.query_one(AlertTable).row_count == 1)
            assert meter.level == -30.0
            await pilot.press("p")
            app.post_message(Heard("s", 3.0, -12.0, {"a": 0.9}, False))
            await until(pilot, lambda: meter.level == -12.0)

    asyncio.run(scenario())


def test_quit_key_stops_the_feed() -> None:
    feed = ReplayFeed(replay_messages())

    async def scenario() -> None:
        app = MonitorApp(feed)
        async with app.run_test() as pilot:
            await pilot.press("q")
            await pilot.pause(0.1)
            assert not app.is_running

    asyncio.run(scenario())
    assert feed.stopped


# -- attached ------------------------------------------------------------------------


def publisher(server: Broker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-daemon")
    client.connect(server.host, server.port)
    client.loop_start()
    return client


def test_attached_shows_the_daemons_topics_and_asks_it_for_a_mode(broker: Broker) -> None:  # noqa: F811
    from monitor.tui.mqtt_feed import MqttFeed

    settings = fast_settings(broker, topic_prefix="sound-monitor/box")
    prefix = "sound-monitor/box"
    daemon = publisher(broker)
    requests = Subscriber(broker, f"{prefix}/mode/set")
    for topic, payload in ((f"{prefix}/mode", "home"), (f"{prefix}/availability", "online"),
                           (f"{prefix}/rule/glass_break/state", "OFF")):
        daemon.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)

    async def scenario() -> None:
        app = MonitorApp(MqttFeed(settings))
        async with app.run_test(size=(100, 30)) as pilot:
            status = app.query_one(StatusBar)
            await until(pilot, lambda: status.mode == "home", timeout=10)
            await until(pilot, lambda: "daemon online" in status.health.mqtt, timeout=10)
            state = {"source": "mic", "wall_time": T0, "level_dbfs": -23.5, "skipped": False,
                     "top": [{"label": "glass_breaking", "score": 0.91}, {"label": "speech", "score": 0.05}]}
            daemon.publish(f"{prefix}/state", json.dumps(state))
            bars = app.query_one(LabelBars)
            await until(pilot, lambda: bars.scores, timeout=10)
            assert bars.top()[0] == ("glass_breaking", 0.91)
            assert app.query_one(LevelMeter).level == -23.5
            raised = alert("m1", "glass_break", "glass_breaking", 0.91, Severity.CRITICAL, T0).alert
            daemon.publish(f"{prefix}/alert", json.dumps(raised.to_json()), qos=1)
            daemon.publish(f"{prefix}/rule/glass_break/state", "ON", qos=1, retain=True)
            table = app.query_one(AlertTable)
            await until(pilot, lambda: table.row_count == 1, timeout=10)
            rules = app.query_one(RulesPanel)
            await until(pilot, lambda: rules.states.get("glass_break") and rules.states["glass_break"].state == "active")
            daemon.publish(f"{prefix}/health", json.dumps({"model": "daemon-model", "backlog": 2, "cpu": 0.12,
                                                          "sources": {"mic": {"ok": True, "status": "ok"}}}))
            await until(pilot, lambda: status.health.model == "daemon-model", timeout=10)
            assert "backlog 2" in str(status.render()) and "CPU 12%" in str(status.render())
            for uptime, busy in ((100.0, 4.0), (110.0, 4.5)):  # the daemon's own health keys, no "cpu"
                daemon.publish(f"{prefix}/health", json.dumps({"uptime": uptime, "inference_seconds": busy,
                                                              "sources": {"mic": {"ok": False, "status": "stalled"}}}))
            await until(pilot, lambda: status.health.cpu == pytest.approx(0.05), timeout=10)
            assert "mic stalled" in str(status.render())

            await pilot.press("n")
            assert requests.wait_for(lambda s: s.last_payload(f"{prefix}/mode/set") == b"night")
            assert status.mode == "home"  # only the daemon's answer changes the mode shown
            daemon.publish(f"{prefix}/mode", "night", qos=1, retain=True)
            await until(pilot, lambda: status.mode == "night", timeout=10)

            daemon.publish(f"{prefix}/rule/glass_break/state", "OFF", qos=1, retain=True)
            await until(pilot, lambda: "m1" in table.cleared, timeout=10)

    try:
        asyncio.run(scenario())
    finally:
        requests.close()
        daemon.disconnect()
        daemon.loop_stop()


def test_attached_without_a_broker_says_so(tmp_path: Path) -> None:
    from monitor.tui.mqtt_feed import MqttFeed
    from mqtt_fixtures import free_port
    from monitor.mqtt import MqttSettings

    settings = MqttSettings(host="127.0.0.1", port=free_port(), reconnect_min_delay=0.1, reconnect_max_delay=0.2)

    async def scenario() -> None:
        app = MonitorApp(MqttFeed(settings))
        async with app.run_test() as pilot:
            status = app.query_one(StatusBar)
            await until(pilot, lambda: "cannot connect" in status.health.mqtt, timeout=10)
            assert "attached" in str(app.query_one(RulesPanel).render())
            assert app.spectrogram.render_line(0).text.startswith("no spectrogram (attached")

    asyncio.run(scenario())


def test_a_source_that_fails_is_shown_and_remembered_for_the_exit_status(tiny_model: Path) -> None:
    from monitor.audio.source import AudioBlock, AudioSource, SourceStats
    from monitor.errors import AudioInputError
    from monitor.rules import RuleSet

    class Unplugged(AudioSource):
        """A microphone that disappears on the first read (as a USB device pulled out)."""

        def __init__(self) -> None:
            super().__init__("usb-mic", 22050, 1)

        def start(self) -> None:
            pass

        def read(self) -> AudioBlock | None:
            raise AudioInputError("usb-mic: the device disappeared")

        @property
        def finished(self) -> bool:
            return False

        def stop(self) -> None:
            pass

        def stats(self) -> SourceStats:
            return SourceStats(False, "gone")

    feed = LocalFeed(Unplugged(), ModelRunner(tiny_model), Engine(RuleSet(rules=())))

    async def scenario() -> None:
        app = MonitorApp(feed)
        async with app.run_test() as pilot:
            status = app.query_one(StatusBar)
            await until(pilot, lambda: status.ended is not None, timeout=10)
            assert "the device disappeared" in str(status.render())
            assert app.failure == "usb-mic: the device disappeared"

    asyncio.run(scenario())


def test_updates_arriving_under_a_pop_up_reach_the_main_screen() -> None:
    async def scenario() -> None:
        app = MonitorApp(ReplayFeed([]))
        async with app.run_test() as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            for message in replay_messages():
                app.post_message(message)  # type: ignore[arg-type]
            await until(pilot, lambda: app.alerts.row_count == 2)
            assert app.status.mode == "away" and app.level.level is not None
            await pilot.press("escape")
            assert app.bars.top()[0][0] == "glass_breaking"

    asyncio.run(scenario())
