"""Small things a user meets on the command line, each behaving as the README says."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from conftest import run_cli
from mqtt_fixtures import broker, free_port, retained  # noqa: F401  (broker: fixture)
from signals import noise, tone, write
from test_cli import run_tiny as run
from test_cli import tiny_rules  # noqa: F401  (a fixture: a rule 'high_tone' on the tiny model's 'high')

RATE = 22050


def one_error_line(result) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("sound-monitor: error:")]
    return line


@pytest.mark.parametrize("command", [["classify"], ["detect", "--rules", "RULES"]])
def test_an_offline_command_gives_up_on_a_dead_stream_url(tmp_path, tiny_model, tiny_rules, command):
    url = f"http://127.0.0.1:{free_port()}/nothing.wav"
    started = time.monotonic()
    result = run_cli(*[str(tiny_rules) if arg == "RULES" else arg for arg in command], url, "--model", str(tiny_model),
                     timeout=60)  # fmt: skip
    assert f"{url}: cannot read it after 3 tries" in one_error_line(result)
    assert time.monotonic() - started < 30


def test_an_unknown_device_is_the_only_line_no_monitoring_banner_first(tiny_model, tiny_rules, tmp_path):
    result = run(tiny_model, tiny_rules, tmp_path, "--device", "nosuchmic", env={"PULSE_SERVER": "unix:/nonexistent"})
    one_error_line(result)
    assert "monitoring" not in result.stderr


def test_run_prints_each_alert_once(tiny_model, tiny_rules, tmp_path):
    clip = write(tmp_path / "beep.wav", np.concatenate([noise(6.0, RATE, -50), tone(6000, 3.0, RATE)]), RATE)
    result = run(tiny_model, tiny_rules, tmp_path, "--source", str(clip))
    assert result.returncode == 0, result.stderr
    assert len([line for line in result.stdout.splitlines() if line.startswith("ALERT")]) == 1
    assert "high_tone" not in result.stderr and "monitoring" in result.stderr


def test_digital_silence_is_named_once_as_a_possibly_muted_input(tiny_model, tiny_rules, tmp_path):
    clip = write(tmp_path / "muted.wav", np.zeros(12 * RATE, np.float32), RATE)
    result = run(tiny_model, tiny_rules, tmp_path, "--source", str(clip))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the input is digital silence (-120 dBFS): is the microphone muted") == 1


@pytest.mark.parametrize("top", ["-1", "0"])
def test_top_must_be_at_least_one(tmp_path, tiny_model, top):
    clip = write(tmp_path / "t.wav", tone(300, 6.0, RATE), RATE)
    result = run_cli("classify", str(clip), "--model", str(tiny_model), "--top", top)
    assert result.returncode == 2 and f"argument --top: must be at least 1, got {top}" in result.stderr


def test_an_unknown_option_shows_the_commands_usage():
    result = run_cli("classify", "--frobnicate", "x.wav")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: sound-monitor classify")
    assert "sound-monitor classify: error: unrecognized arguments: --frobnicate" in result.stderr


def test_rules_active_when_a_recording_ends_are_cleared_on_mqtt_and_in_the_journal(tiny_model, tiny_rules, tmp_path,
                                                                                  broker):  # noqa: F811
    clip = write(tmp_path / "late.wav", np.concatenate([noise(6.0, RATE, -50), tone(6000, 4.0, RATE)]), RATE)
    prefix = "sound-monitor/testnode"
    result = run(tiny_model, tiny_rules, tmp_path, "--source", str(clip), "--mqtt", f"{broker.host}:{broker.port}",
                 "--mqtt-prefix", prefix)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert retained(broker, f"{prefix}/rule/high_tone/state") == b"OFF"
    listed = run_cli("alerts", "--json", "--state-dir", str(tmp_path / "state"))
    (alert,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert alert["rule"] == "high_tone" and alert["cleared_at"] is not None


def test_train_on_loose_clips_says_it_needs_label_folders_or_a_manifest(tmp_path):
    data = tmp_path / "clips"
    data.mkdir()
    for n in range(3):
        write(data / f"clip{n}.wav", tone(300, 1.0, RATE), RATE)
    result = run_cli("train", str(data), "--out", str(tmp_path / "m.onnx"), timeout=120)
    line = one_error_line(result)
    assert "3 audio files but no clips in <label>/ sub-folders" in line and "manifest.csv" in line
