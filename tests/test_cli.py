"""The command line as a user meets it: timelines, JSON, and one-line errors for every mistake."""

import json

import numpy as np
import pytest

from conftest import run_cli
from signals import noise, tone, write
from tiny_model import make_tiny_model

RATE = 22050


def classify(*args, model):
    return run_cli("classify", "--model", str(model), *args)


def assert_clean_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("sound-monitor: error:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_classify_prints_a_timeline_with_levels_and_top_labels(tmp_path, tiny_model):
    clip = write(tmp_path / "tone.flac", tone(8000, 8.0, 44100), 44100)
    result = classify(str(clip), model=tiny_model)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 8  # starts 0 .. 7 s: past the end (zero-padded), as live audio would go on
    assert "0.00-   5.00 s" in lines[0] and "-15.1 dBFS" in lines[0] and "high" in lines[0].split("dBFS")[1][:8]


def test_classify_json_has_one_object_per_window_with_every_label(tmp_path, tiny_model):
    clip = write(tmp_path / "t.wav", tone(200, 6.5, RATE), RATE)
    result = classify(str(clip), "--json", "--hop", "0.5", model=tiny_model)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["start"] for r in rows[:3]] == pytest.approx([0.0, 0.5, 1.0], abs=256 / RATE)  # frame grid
    for row in rows:
        assert row["source"] == str(clip)
        assert set(row["scores"]) == {"low", "mid", "high"}
        assert {"start", "end", "level_dbfs"} <= set(row)
    assert max(rows[0]["scores"], key=rows[0]["scores"].get) == "low"


def test_mp3_and_ogg_are_read(tmp_path, tiny_model):
    for name in ("clip.mp3", "clip.ogg"):
        clip = write(tmp_path / name, tone(1500, 5.0, 44100), 44100)
        result = classify(str(clip), model=tiny_model)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) in (5, 6)  # starts 0 .. 4 s; MP3 pads its end a little


def test_a_missing_file_is_one_clear_line(tmp_path, tiny_model):
    assert_clean_error(classify(str(tmp_path / "nope.wav"), model=tiny_model), "nope.wav", "no such file")


def test_an_empty_file_is_one_clear_line(tmp_path, tiny_model):
    (tmp_path / "empty.wav").write_bytes(b"")
    assert_clean_error(classify(str(tmp_path / "empty.wav"), model=tiny_model), "empty (0 bytes)")


def test_random_bytes_are_not_audio(tmp_path, tiny_model):
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(0).bytes(20000))
    assert_clean_error(classify(str(tmp_path / "noise.wav"), model=tiny_model), "cannot decode audio", "ffmpeg")


def test_a_wav_with_no_samples_is_refused(tmp_path, tiny_model):
    clip = write(tmp_path / "zero.wav", np.zeros(0, np.float32), RATE)
    assert_clean_error(classify(str(clip), model=tiny_model), "contains no audio samples")


def test_a_truncated_file_is_analysed_up_to_where_it_breaks(tmp_path, tiny_model):
    clip = write(tmp_path / "whole.flac", noise(12.0, RATE), RATE)
    data = clip.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])
    result = classify(str(cut), model=tiny_model)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert 4 <= len(result.stdout.splitlines()) <= 8  # about 6 of the 12 s survive


def test_digital_silence_reads_as_the_level_floor(tmp_path, tiny_model):
    clip = write(tmp_path / "silence.wav", np.zeros(6 * RATE, np.float32), RATE)
    result = classify(str(clip), "--json", model=tiny_model)
    assert result.returncode == 0
    assert {json.loads(line)["level_dbfs"] for line in result.stdout.splitlines()} == {-120.0}


@pytest.mark.parametrize("rate", [1, 100, 7999, 384001, 1_000_000_000])
def test_a_sample_rate_outside_8k_to_384k_is_a_clear_error(tmp_path, tiny_model, rate):
    clip = write(tmp_path / "odd.wav", np.zeros(8000, dtype=np.float32), 8000, "FLOAT")
    header = bytearray(clip.read_bytes())  # libsndfile writes no such rates: patch the header as damage would
    fmt = header.index(b"fmt ")
    header[fmt + 12 : fmt + 16] = rate.to_bytes(4, "little")
    clip.write_bytes(bytes(header))
    (tmp_path / "rules.yaml").write_text("rules:\n  - {name: r, sound: low}\n")
    for command in (["classify"], ["detect", "--rules", str(tmp_path / "rules.yaml")]):
        result = run_cli(*command, str(clip), "--model", str(tiny_model))
        assert_clean_error(result, f"odd.wav: sample rate {rate} Hz is outside the supported 8000..384000 Hz")


def test_nan_and_inf_samples_become_silence_with_a_warning(tmp_path, tiny_model):
    x = tone(1000, 6.0, RATE)
    x[RATE : 2 * RATE] = np.nan
    x[3 * RATE] = np.inf
    x[4 * RATE : 4 * RATE + 100] = 1e30  # a float WAV may hold any number; squaring this overflows
    clip = write(tmp_path / "nan.wav", x, RATE, "FLOAT")
    result = classify(str(clip), "--json", model=tiny_model)
    assert result.returncode == 0, result.stderr
    assert "replaced NaN, inf or out-of-range samples with silence" in result.stderr
    assert "RuntimeWarning" not in result.stderr
    for line in result.stdout.splitlines():
        row = json.loads(line)
        assert np.isfinite(row["level_dbfs"]) and all(np.isfinite(list(row["scores"].values())))


def test_a_clipped_file_is_analysed_near_full_scale(tmp_path, tiny_model):
    clip = write(tmp_path / "clipped.wav", np.clip(tone(300, 6.0, RATE, amplitude=4.0), -1, 1), RATE, "PCM_16")
    rows = [json.loads(line) for line in classify(str(clip), "--json", model=tiny_model).stdout.splitlines()]
    assert rows and all(-1.0 < r["level_dbfs"] <= 0.0 for r in rows)


def test_a_clip_under_a_second_is_padded_and_the_user_is_told(tmp_path, tiny_model):
    clip = write(tmp_path / "short.wav", tone(1000, 0.9, RATE), RATE)
    result = classify(str(clip), model=tiny_model)
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 1
    assert "shorter than the 5-s window: padded with silence" in result.stderr


def test_a_model_with_missing_metadata_is_refused(tmp_path):
    model = make_tiny_model(tmp_path / "bare.onnx", props={})
    clip = write(tmp_path / "t.wav", tone(1000, 5.0, RATE), RATE)
    assert_clean_error(classify(str(clip), model=model), "bare.onnx", "not a sound-monitor model")


def test_a_missing_model_file_is_refused(tmp_path):
    clip = write(tmp_path / "t.wav", tone(1000, 5.0, RATE), RATE)
    assert_clean_error(classify(str(clip), model=tmp_path / "nope.onnx"), "model file not found")


def test_hop_outside_0_25_to_5_is_a_usage_error(tmp_path, tiny_model):
    clip = write(tmp_path / "t.wav", tone(1000, 5.0, RATE), RATE)
    result = classify(str(clip), "--hop", "0.1", model=tiny_model)
    assert result.returncode == 2 and "hop must be between 0.25 and 5" in result.stderr


TINY_RULES = """
version: 1
rules:
  - name: high_tone
    sound: high
    severity: warning
"""


@pytest.fixture
def tiny_rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(TINY_RULES)
    return path


def run_tiny(tiny_model, tiny_rules, tmp_path, *args, **kwargs):
    return run_cli("run", "--model", str(tiny_model), "--rules", str(tiny_rules), "--state-dir", str(tmp_path / "state"),
                   *args, **kwargs)


def test_run_without_a_microphone_says_how_to_use_a_file(tiny_model, tiny_rules, tmp_path):
    # No PulseAudio server for this process: PortAudio finds no usable input.
    result = run_tiny(tiny_model, tiny_rules, tmp_path, env={"PULSE_SERVER": "unix:/nonexistent"})
    assert result.returncode == 2, result.stderr
    assert "--source FILE" in result.stderr and "Traceback" not in result.stderr


def test_run_demo_shows_the_pipeline_on_a_synthetic_scene(tiny_model, tiny_rules, tmp_path):
    result = run_tiny(tiny_model, tiny_rules, tmp_path, "--source", "demo", "--json", "--hop", "5", timeout=60)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    windows = [r for r in rows if "event" not in r]
    assert len(windows) == 6  # 30 s of scene at hop 5
    assert windows[0]["level_dbfs"] < -50 < windows[1]["level_dbfs"]  # quiet room, then the alarm from 6 s


def test_run_applies_the_rules_to_a_file_and_journals_the_alert(tiny_model, tiny_rules, tmp_path):
    clip = write(tmp_path / "beep.wav", np.concatenate([noise(6.0, RATE, -50), tone(6000, 3.0, RATE)]), RATE)
    result = run_tiny(tiny_model, tiny_rules, tmp_path, "--source", str(clip))
    assert result.returncode == 0, result.stderr
    alerts = [line for line in result.stdout.splitlines() if line.startswith("ALERT")]
    assert len(alerts) == 1 and "WARNING high_tone" in alerts[0]
    listed = run_cli("alerts", "--state-dir", str(tmp_path / "state"), "--json")
    assert [json.loads(line)["rule"] for line in listed.stdout.splitlines()] == ["high_tone"]


def test_every_command_has_help():
    for command in ("classify", "run", "devices"):
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout
