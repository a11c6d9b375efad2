"""Event-level evaluation: synthetic mixtures and `sound-monitor evaluate` on annotated recordings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from made_clips import SR, write_dataset
from monitor.evaluate.events import Event, read_annotations, write_annotations
from monitor.evaluate.mixtures import build_mixtures, rms
from monitor.features.params import FeatureParams
from monitor.model.metadata import ModelMetadata
from tiny_model import make_tiny_model

ROOT = Path(__file__).resolve().parents[1]


def band_noise(seconds: float, lo: float, hi: float, level: float, seed: int) -> np.ndarray:
    n = int(seconds * SR)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spectrum[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spectrum, n)
    return (x / np.sqrt(np.mean(x**2)) * level).astype(np.float32)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def model(tmp_path) -> Path:
    # The tiny model calls broadband hiss 'high' at ~0.93 (up to 0.996 in the zero-padded windows
    # after a recording's end); a loud high band pushes it to ~1.0.
    metadata = ModelMetadata(labels=("low", "mid", "high"), features=FeatureParams(), thresholds={"high": 0.999},
                             info={"name": "tiny"})
    return make_tiny_model(tmp_path / "tiny.onnx", metadata)


def test_mixtures_put_events_where_the_sidecar_says_at_the_asked_ratio(tmp_path):
    bg_path, ev_path = tmp_path / "bg.wav", tmp_path / "ev.wav"
    soundfile.write(str(bg_path), band_noise(6, 50, 11000, 0.02, 1), SR)
    event = np.concatenate([np.zeros(SR // 2), band_noise(1.0, 3000, 6000, 0.3, 2), np.zeros(SR // 2)]).astype(np.float32)
    soundfile.write(str(ev_path), event, SR)
    mixtures = build_mixtures([(ev_path, "beep")], [bg_path], tmp_path / "out", SR, seconds=40, per_mixture=3,
                              ebrs_db=(-6.0, 0.0, 6.0), seed=4)
    assert len(mixtures) == 1
    mix, rate = soundfile.read(str(mixtures[0].path), dtype="float32")
    events = read_annotations(mixtures[0].path.with_suffix(".csv"))
    assert rate == SR and len(mix) == 40 * SR
    assert sorted(e.ebr_db for e in events) == [-6.0, 0.0, 6.0]
    for e in events:
        # The trimmed event lasts its 1 s of sound, not the silent padding around it.
        assert e.offset - e.onset == pytest.approx(1.0, abs=0.05)
        span = mix[int(e.onset * SR) : int(e.offset * SR)]
        before = mix[int((e.onset - 2) * SR) : int((e.onset - 1) * SR)]
        measured = 10 * np.log10(rms(span) ** 2 / rms(before) ** 2 - 1)
        assert measured == pytest.approx(e.ebr_db, abs=1.5)
    onsets = sorted(e.onset for e in events)
    assert all(b - a >= 8 for a, b in zip(onsets, onsets[1:]))


def test_evaluate_streams_scores_recall_false_alarms_and_latency(tmp_path, model):
    streams = tmp_path / "streams"
    streams.mkdir()
    audio = band_noise(40, 50, 11000, 0.01, 0)
    for t in (10, 25):
        audio[t * SR : (t + 3) * SR] += band_noise(3, 3000, 11000, 0.5, t)
    soundfile.write(str(streams / "hall.flac"), audio, SR)
    write_annotations(streams / "hall.csv", [Event(10, 13, "high"), Event(25, 28, "high")])
    result = run_cli("evaluate", "--streams", str(streams), "--model", str(model), "--ignore", "low,mid",
                     "--report-dir", str(tmp_path / "eval"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0.00 false alarms/h" in result.stdout
    report = (tmp_path / "eval" / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| high |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["2", "1.000"]  # events, recall
    latency, onset_error, within = cells[-3:]
    assert float(latency) == pytest.approx(0.5, abs=0.05)  # first window ending after the onset
    # That window began 4.5 s before the burst; the alert's onset is the burst's start.
    assert abs(float(onset_error)) <= 0.1 and within == "1.00"
    assert "Onset error over all detected events" in report and "1.00** within ±0.5 s (2 events)" in report
    assert "median onset error" in result.stdout


def test_evaluate_streams_without_sidecars_is_a_one_line_error(tmp_path, model):
    (tmp_path / "s").mkdir()
    soundfile.write(str(tmp_path / "s" / "a.wav"), np.zeros(SR, np.float32), SR)
    result = run_cli("evaluate", "--streams", str(tmp_path / "s"), "--model", str(model), cwd=tmp_path)
    assert result.returncode == 2
    assert "no recordings with a <name>.csv sidecar" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_clips_reports_per_class_scores_and_confusion_matrix(tmp_path, model):
    data = write_dataset(tmp_path / "data", per_label=5)
    result = run_cli("evaluate", str(data), "--model", str(model), "--labels", "identity", "--folds", "1", "--folds", "2",
                     "--cache", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "eval"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "not in the model's labels, left out: hiss" in result.stdout
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "| low | 2 |" in report and "| high | 2 |" in report and "macro-F1" in report
    assert (tmp_path / "eval" / "confusion-1.png").is_file() and (tmp_path / "eval" / "confusion-2.png").is_file()
