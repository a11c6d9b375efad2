"""The daemon as systemd runs it: READY once audio flows, watchdog pings only while windows are processed,
RELOADING/READY around SIGHUP (bad rules keep the running ones), clips and journal, clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import stat
import struct
import threading
import time

import numpy as np
import pytest
import soundfile

from conftest import run_cli
from daemon_support import RATE, RULES, DaemonProcess, scene, wav_stream_header, write_config
from monitor.journal import Journal, journal_path
from signals import noise
from tiny_model import nan_model


def test_ready_watchdog_reload_clip_and_clean_stop(tmp_path, tiny_model, notify, daemons):
    scene(tmp_path / "scene.wav", seconds=24, sound=(12.0, 15.0))
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav, realtime: true}",
                          "clips: {enabled: true, pre_seconds: 2, post_seconds: 2}\n")  # fmt: skip
    daemon = DaemonProcess(config, notify, watchdog_usec=2_000_000)
    daemons.append(daemon)

    ready = notify.wait_for("READY", "1", timeout=20)
    assert "1/1 sources ok" in ready.fields["STATUS"]

    # READY comes as soon as audio flows; the first 5-s window (and watchdog ping) a window later.
    # Then windows come every 0.5 s and the watchdog (2 s) is pinged once a second, from the processing loop.
    first = notify.wait_for("WATCHDOG", "1", timeout=15)
    assert 4.0 < first.time - ready.time < 8.0
    notify.poll(4.0)
    pings = [m.time for m in notify.messages if "WATCHDOG" in m.fields and m.time >= first.time]
    gaps = np.diff(pings)
    assert 3 <= len(pings) <= 6, gaps
    assert gaps.min() >= 0.95 and gaps.max() < 2.0, gaps

    # A broken rules file on reload: RELOADING=1 ... READY=1, and the running rules stay.
    (tmp_path / "rules.yaml").write_text(RULES.replace("threshold: 0.6", "threshold: lots"))
    daemon.signal(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING", "1", timeout=10, after=first)
    assert abs(int(reloading.fields["MONOTONIC_USEC"]) / 1e6 - time.monotonic()) < 5
    notify.wait_for("READY", "1", timeout=10, after=reloading)
    failed = daemon.wait_for_event("rules_reload_failed")
    assert "rules.yaml:6: 'threshold'" in failed and "kept the running rules" in failed

    assert not daemon.events("alert")
    # The 300-Hz tone at 12-15 s fires the old rule; the alert goes out once its clip is written.
    alert_line = daemon.wait_for_event("alert", timeout=25)
    assert "rule=low_sound" in alert_line and "severity=critical" in alert_line
    with Journal(journal_path(tmp_path / "state")) as journal:
        (entry,) = journal.entries()
    alert = entry.alert
    assert alert.rule == "low_sound" and alert.clip_path is not None
    audio, rate = soundfile.read(alert.clip_path)
    assert rate == RATE
    assert len(audio) / rate == pytest.approx(alert.stream_time + 2 - (alert.onset - 2), abs=0.05)

    # A valid reload takes effect: the renamed rule replaces the old one, whose alert is cleared.
    # The config is re-read too: the log level applies at once, the hop needs a restart (and says so).
    assert not daemon.events("window")  # no per-window lines at INFO
    (tmp_path / "rules.yaml").write_text(RULES.replace("low_sound", "low_renamed"))
    config.write_text(config.read_text().replace("hop: 0.5", "hop: 1") + "logging: {level: debug}\n")
    daemon.signal(signal.SIGHUP)
    assert "changed=hop" in daemon.wait_for_event("config_needs_restart")
    assert "reloaded 1 rules" in daemon.wait_for_event("rules_reloaded")
    assert "source=room" in daemon.wait_for_event("window")  # DEBUG now shows each window

    notify.poll(0.5)  # drain the queue, as systemd does continuously
    notify.messages.clear()
    code, seconds = daemon.terminate()
    assert code == 0 and seconds < 5, daemon.log()
    notify.poll(0.3)
    assert any(m.fields.get("STOPPING") == "1" for m in notify.messages)
    assert daemon.health()["stopped"] is True
    assert "Traceback" not in daemon.log()


def test_watchdog_pings_stop_when_the_pipeline_stalls(tmp_path, tiny_model, notify, daemons):
    fifo = tmp_path / "live.fifo"
    os.mkfifo(fifo)
    stop_writing = threading.Event()
    stalled_at: list[float] = []

    def writer() -> None:
        with open(fifo, "wb", buffering=0) as pipe:  # blocks until ffmpeg opens the FIFO
            pipe.write(wav_stream_header(RATE))
            block = noise(0.1, RATE, -40.0)
            start = time.monotonic()
            sent = 0
            while not stop_writing.is_set() and sent < 80:  # 8 s of audio in real time
                pipe.write(block.tobytes())
                sent += 1
                time.sleep(max(0.0, start + sent * 0.1 - time.monotonic()))
            stalled_at.append(time.monotonic())
            stop_writing.wait(30)  # keep the FIFO open but silent: a stalled stream, not a closed one

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    # stall_seconds 60: the source itself does not notice within the test, so nothing handles the stall.
    config = write_config(tmp_path, tiny_model, f"{{id: cam, url: 'file://{fifo}', stall_seconds: 60}}")
    daemon = DaemonProcess(config, notify, watchdog_usec=2_000_000)
    daemons.append(daemon)
    try:
        notify.wait_for("READY", "1", timeout=20)
        deadline = time.monotonic() + 25
        while not stalled_at and time.monotonic() < deadline:
            notify.poll(0.2)
        assert stalled_at, "the writer did not finish"
        notify.poll(6.5)
        pings = [m.time for m in notify.messages if "WATCHDOG" in m.fields]
        flowing = [t for t in pings if t < stalled_at[0]]
        assert len(flowing) >= 3  # pinged while audio flowed
        # The last window counts as fresh for 2 hops + 1 s (2 s); after that, silence.
        late = [t - stalled_at[0] for t in pings if t > stalled_at[0] + 3.5]
        assert late == []  # no windows, no pings: systemd would restart the service
    finally:
        stop_writing.set()
    code, seconds = daemon.terminate()
    assert code == 0 and seconds < 6, daemon.log()


def test_a_missing_model_is_one_fatal_line_and_exit_2(tmp_path):
    config = write_config(tmp_path, tmp_path / "nope.onnx", "{id: room, file: scene.wav}")
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"sound-monitor: error: model file not found: {tmp_path / 'nope.onnx'}" in result.stderr


def test_broken_rules_at_start_are_fatal_with_their_lines(tmp_path, tiny_model):
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav}", rules=RULES.replace("sound: low", "sound: lowww"))
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'rules.yaml'}:5: unknown sound 'lowww'" in result.stderr


def test_a_broken_config_is_refused_before_anything_starts(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("sources: [{id: room}]\n")
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2 and f"{config}:1: sources[0]: has none of" in result.stderr
    mixed = run_cli("run", "--config", str(config), "--source", "demo")
    assert mixed.returncode == 2 and "--source cannot be combined with --config" in mixed.stderr


def test_a_source_that_cannot_open_exits_1_for_systemd_to_retry(tmp_path, tiny_model):
    config = write_config(tmp_path, tiny_model, "{id: room, file: missing.wav}")
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 1, result.stderr
    assert "event=fatal" in result.stderr and "missing.wav: no such file" in result.stderr


def test_sigterm_while_starting_up_is_a_clean_stop(tmp_path, tiny_model, daemons):
    scene(tmp_path / "scene.wav", seconds=20)
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav, realtime: true}")
    daemon = DaemonProcess(config)
    daemons.append(daemon)
    daemon.wait_for_event("starting")  # the model and rules are loading now
    daemon.signal(signal.SIGHUP)  # would kill an unprepared process
    code, seconds = daemon.terminate()
    assert code == 0 and seconds < 5, daemon.log()
    assert daemon.events("stopped") and "Traceback" not in daemon.log()


def test_a_rules_file_edited_on_disk_is_reloaded_without_a_signal(tmp_path, tiny_model, daemons):
    scene(tmp_path / "scene.wav", seconds=30)
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav, realtime: true}")
    daemon = DaemonProcess(config)
    daemons.append(daemon)
    daemon.wait_for_event("ready")
    (tmp_path / "rules.yaml").write_text(RULES.replace("sound: low", "sound: nothing"))
    assert "unknown sound 'nothing'" in daemon.wait_for_event("rules_reload_failed", timeout=10)
    (tmp_path / "rules.yaml").write_text(RULES + "  - {name: mid_sound, sound: mid}\n")
    assert "reloaded 2 rules (1 unchanged kept their state)" in daemon.wait_for_event("rules_reloaded", timeout=10)
    code, _ = daemon.terminate()
    assert code == 0


def test_several_sources_share_one_pipeline_and_each_follows_its_own_rules(tmp_path, tiny_model):
    scene(tmp_path / "a.wav", seconds=16, sound=(5.0, 8.0))
    scene(tmp_path / "b.wav", seconds=16, sound=(5.0, 8.0))
    (tmp_path / "b-rules.yaml").write_text(RULES.replace("low_sound", "b_low"))
    config = write_config(tmp_path, tiny_model, "{id: a, file: a.wav}\n  - {id: b, file: b.wav, rules: b-rules.yaml}")
    result = run_cli("run", "--config", str(config), timeout=60)  # files end: the daemon stops by itself
    assert result.returncode == 0, result.stderr
    with Journal(journal_path(tmp_path / "state")) as journal:
        alerts = sorted((e.alert.source, e.alert.rule) for e in journal.entries())
    assert alerts == [("a", "low_sound"), ("b", "b_low")]
    health = json.loads((tmp_path / "state" / "health.json").read_text())
    assert set(health["sources"]) == {"a", "b"} and health["stopped"] is True
    assert health["windows"] == health["inferred"] > 2 * 20  # every window of both files went through the model


def test_a_model_giving_nan_scores_is_an_error_in_the_log_and_in_health(tmp_path, tiny_model):
    scene(tmp_path / "a.wav", seconds=12, sound=(5.0, 8.0))
    config = write_config(tmp_path, nan_model(tiny_model, tmp_path / "nan.onnx"), "{id: a, file: a.wav}")
    result = run_cli("run", "--config", str(config), timeout=60)
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.splitlines() if "level=error" in line]
    assert len(errors) == 1 and "the model gave NaN or inf scores" in errors[0], result.stderr
    health = json.loads((tmp_path / "state" / "health.json").read_text())
    assert health["model_ok"] is False and health["ok"] is False
    assert health["invalid_scores"] == health["inferred"] > 0


def test_state_files_are_private_whatever_the_umask_and_an_open_state_directory_is_warned_about(tmp_path, tiny_model):
    scene(tmp_path / "a.wav", seconds=12, sound=(5.0, 8.0))
    config = write_config(tmp_path, tiny_model, "{id: a, file: a.wav}")
    (tmp_path / "state").mkdir(mode=0o755)
    previous = os.umask(0o022)  # the usual login umask, inherited by the daemon
    try:
        result = run_cli("run", "--config", str(config), timeout=60)
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    (warning,) = [line for line in result.stderr.splitlines() if "event=state_dir_not_private" in line]
    assert "open to its group and others (mode 0755)" in warning and "chmod 700" in warning
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "state").iterdir() if p.is_file()}
    assert {"alerts.sqlite3", "health.json"} <= set(modes) and set(modes.values()) == {0o600}, modes
