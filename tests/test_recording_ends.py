"""A recording's end behaves like live audio: short clips can meet 'N of M' rules, and a
recording that raised nothing says which rule came closest and why."""

from __future__ import annotations

import json
import time

from conftest import run_cli
from signals import noise, tone, write

RATE = 22050


def detect(tmp_path, model, clip, rules: str, *args: str):
    (tmp_path / "rules.yaml").write_text(rules)
    return run_cli("detect", str(clip), "--model", str(model), "--rules", str(tmp_path / "rules.yaml"), *args)


def test_a_clip_shorter_than_a_window_can_fire_a_3_of_4_rule(tmp_path, tiny_model):
    clip = write(tmp_path / "beep.wav", tone(300, 3.5, RATE), RATE)
    rules = "rules:\n  - {name: low_sound, sound: low, threshold: 0.6, persistence: 3 of 4}\n"
    result = detect(tmp_path, tiny_model, clip, rules)
    assert result.returncode == 0, result.stderr
    assert "low_sound" in result.stdout and "1 alert in 1 recording" in result.stderr


def test_a_sound_at_the_very_end_of_a_recording_counts_as_much_as_one_in_the_middle(tmp_path, tiny_model):
    audio = noise(12.0, RATE, -50.0)
    audio[9 * RATE:] += tone(300, 3.0, RATE, 0.3)  # the last 3 s
    clip = write(tmp_path / "late.wav", audio, RATE)
    rules = "min_level_dbfs: -90\nrules:\n  - {name: low_sound, sound: low, threshold: 0.6, persistence: 3 of 4}\n"
    result = detect(tmp_path, tiny_model, clip, rules)
    assert result.returncode == 0 and "low_sound" in result.stdout, result.stderr


def test_no_alert_names_the_rule_closest_to_firing_and_what_it_lacked(tmp_path, tiny_model):
    clip = write(tmp_path / "beep.wav", tone(300, 3.5, RATE), RATE)
    rules = ("rules:\n  - {name: long_low, sound: low, threshold: 0.6, for: 30s}\n"
             "  - {name: away_low, sound: low, threshold: 0.6, modes: [away]}\n")  # fmt: skip
    result = detect(tmp_path, tiny_model, clip, rules, "--mode", "home")
    assert result.returncode == 0 and result.stdout == "", result.stderr
    assert f"{clip}: no alert; closest: long_low: heard (low 1.00) for 3.0 s of the 30 s it needs" in result.stderr
    only_away = detect(tmp_path, tiny_model, clip, "rules:\n  - {name: away_low, sound: low, modes: [away]}\n",
                       "--mode", "home")  # fmt: skip
    assert "closest: away_low: heard (low 1.00) but the rule is off then (home mode" in only_away.stderr

def test_nothing_is_explained_when_no_threshold_was_crossed(tmp_path, tiny_model):
    clip = write(tmp_path / "hiss.wav", noise(6.0, RATE, -30.0), RATE)
    result = detect(tmp_path, tiny_model, clip, "rules:\n  - {name: low_sound, sound: low, threshold: 0.6}\n")
    assert result.returncode == 0 and "closest" not in result.stderr and "0 alerts" in result.stderr


def test_a_recordings_alerts_are_placed_by_position_never_in_the_future(tmp_path, tiny_model):
    audio = noise(60.0, RATE, -50.0)
    audio[50 * RATE : 53 * RATE] += tone(300, 3.0, RATE, 0.3)
    clip = write(tmp_path / "hour.wav", audio, RATE)
    (tmp_path / "rules.yaml").write_text(
        "min_level_dbfs: -90\nrules:\n  - {name: low_sound, sound: low, threshold: 0.6, message: '{rule} at {time}'}\n")
    state = tmp_path / "state"
    ran = run_cli("run", "--source", str(clip), "--model", str(tiny_model), "--rules", str(tmp_path / "rules.yaml"),
                  "--state-dir", str(state))  # fmt: skip
    ended = time.time()
    assert ran.returncode == 0, ran.stderr
    (alert,) = [line for line in ran.stdout.splitlines() if line.startswith("ALERT")]
    # Placed where the tone begins (50 s, to the frame), not where its first window began (~46-50 s).
    assert alert.endswith(("low_sound at 0:00:49 into the recording", "low_sound at 0:00:50 into the recording"))
    listed = run_cli("alerts", "--state-dir", str(state))
    header, row = listed.stdout.splitlines()
    assert header.split()[:2] == ["time", "source"] and row.startswith(("0:00:49", "0:00:50")) and " in recording  hour.wav " in row
    (record,) = [json.loads(line) for line in run_cli("alerts", "--json", "--state-dir", str(state)).stdout.splitlines()]
    assert record["recording"] is True and record["wall_time"] <= ended
