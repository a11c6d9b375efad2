"""``sound-monitor detect`` end to end: real speech clips in a background recording, through the real
pipeline, model and the shipped rules.yaml: an alert in away mode, none at home."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile

from conftest import REPO, SHARED, run_cli
from tiny_model import make_tiny_model, tiny_metadata

HOMESOUNDS = SHARED / "datasets" / "homesounds"
REAL_MODEL = REPO / "models" / "sound-monitor.onnx"
RATE = 22050
SPEECH = (("audio/speech/libri__1088-134315-0013.flac", 12.0), ("audio/speech/libri__1088-134315-0018.flac", 24.0))
BACKGROUND = ("audio/air_conditioner/us8k__119067-0-0-0.flac", "audio/air_conditioner/us8k__119067-0-0-1.flac")
# Without the trained model: a tiny model whose band-to-label map puts low hum on 'background' and the
# speech band on 'speech' (tests/tiny_model.py), under the label names the real model uses.
TINY_LABELS = ("background", "speech", "footsteps", "door_knock", "cough_sneeze_laugh", "dog_bark", "door", "siren",
               "gunshot", "other", "glass_breaking", "scream_or_shout", "smoke_alarm", "baby_cry")

pytestmark = pytest.mark.skipif(not HOMESOUNDS.is_dir(), reason=f"dataset not found at {HOMESOUNDS}")


def load(relative: str) -> np.ndarray:
    samples, rate = soundfile.read(str(HOMESOUNDS / relative), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    return mono if rate == RATE else librosa.resample(mono, orig_sr=rate, target_sr=RATE)


def at_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    return x * (10 ** (dbfs / 20) / np.sqrt(np.mean(np.square(x))))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s of air-conditioner hum at -55 dBFS with two read sentences at -25 dBFS from 12 s and 24 s."""
    hum = np.concatenate([load(p) for p in BACKGROUND])
    audio = at_dbfs(np.tile(hum, int(np.ceil(40 * RATE / len(hum))))[: 40 * RATE], -55.0)
    for path, start in SPEECH:
        speech = at_dbfs(load(path), -25.0)
        begin = int(start * RATE)
        audio[begin : begin + len(speech)] += speech[: len(audio) - begin]
    path = tmp_path_factory.mktemp("scene") / "living_room.flac"
    soundfile.write(str(path), audio, RATE)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if REAL_MODEL.is_file():
        return REAL_MODEL
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx", tiny_metadata(labels=TINY_LABELS))


def detect(*args: str, model: Path) -> list[dict[str, object]]:
    result = run_cli("detect", "--model", str(model), "--rules", str(REPO / "rules.yaml"), "--json", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_speech_while_away_raises_a_critical_human_sounds_alert(scene: Path, model: Path):
    alerts = detect(str(scene), "--mode", "away", model=model)
    human = [a for a in alerts if a["rule"] == "human_while_away"]
    assert human, alerts
    first = human[0]
    assert (first["label"], first["severity"], first["mode"]) == ("speech", "critical", "away")
    assert first["source"] == str(scene)
    window = first["windows"][0]
    assert window["start"] <= first["onset"] <= window["end"]
    # The first sentence's clip opens with 0.28 s of breath: its first word is at 12.28 s.
    assert first["onset"] == pytest.approx(12.28, abs=0.5)
    assert window["start"] + 5.0 <= first["stream_time"] <= window["start"] + 5.0 + 3.0  # 2 of 3 windows, 1-s hop
    assert 0.5 <= first["score"] <= 1.0 and first["windows"] and len(first["id"]) == 32


def test_the_same_recording_at_home_raises_nothing(scene: Path, model: Path):
    assert detect(str(scene), "--mode", "home", model=model) == []


def test_detect_prints_one_readable_line_per_alert(scene: Path, model: Path):
    result = run_cli("detect", "--model", str(model), "--rules", str(REPO / "rules.yaml"), "--mode", "away",
                     "--hop", "0.5", str(scene))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(f"{scene}  ") and "CRITICAL" in line for line in lines)
    assert "human_while_away: Human sounds (speech) on" in lines[0]
    assert result.stderr.strip().endswith(f"{len(lines)} alert{'s' if len(lines) != 1 else ''} in 1 recording")


def test_an_invalid_rules_file_stops_detect_with_every_problem(scene: Path, model: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    sound: speach\n    modes: [vacation]\n")
    result = run_cli("detect", "--model", str(model), "--rules", str(bad), str(scene))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}:3: unknown sound 'speach'" in result.stderr
    assert f"{bad}:4: 'modes': unknown mode 'vacation'" in result.stderr
