"""An alert says when its sound began: the step up in level inside the first window that scored,
not that window's start (the model scores only once a second or more of the sound is in the window)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.alerts import Alert
from monitor.audio.open import open_source
from monitor.features.params import FeatureParams
from monitor.journal import Journal
from monitor.model.metadata import ModelMetadata
from monitor.model.runner import ModelRunner
from monitor.onset import estimate_onset
from monitor.pipeline import Pipeline
from monitor.rules.engine import Engine
from monitor.rules.loader import parse_rules
from monitor.stream.levels import FrameLevels
from signals import noise, tone, write
from test_evaluate_streams import band_noise
from tiny_model import make_tiny_model

RATE = 22050
RULES = """version: 1
mode: away
rules:
  - name: hiss
    sound: high
    cooldown: 0s
    clear_after: 2s
    message: "hiss"
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 'high' crosses 0.97 once about a second of loud hiss is in the 5-s window (quiet noise scores ~0).
    metadata = ModelMetadata(labels=("low", "mid", "high"), features=FeatureParams(), thresholds={"high": 0.97},
                             info={"name": "tiny"})
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx", metadata)


def room(seconds: float) -> np.ndarray:
    """Quiet room: faint hiss under a louder hum, the hum keeping 'high' far below its threshold."""
    return band_noise(seconds, 50, 11000, 0.003, 0) + band_noise(seconds, 50, 300, 0.01, 5)


def alerts(model: Path, audio: np.ndarray, tmp_path: Path, hop: float) -> tuple[list[Alert], dict[float, float]]:
    """The alerts of ``audio`` through the real file source, pipeline and rule engine, and each
    window's Unix time (of its first sample) by its start."""
    path = write(tmp_path / "room.wav", audio.astype(np.float32), RATE)
    runner = ModelRunner(model)
    engine = Engine(parse_rules(RULES, "<test>", runner.labels, runner.metadata.thresholds))
    source = open_source(str(path), RATE, realtime=False)
    predictions = list(Pipeline([source], runner, hop_seconds=hop).run())
    found = [e for p in predictions for e in engine.process(p) if isinstance(e, Alert)]
    # Past the file's end, windows are mostly zero padding, which the tiny model may call 'high'.
    in_audio = [a for a in found if a.windows[0].end <= len(audio) / RATE]
    return in_audio, {p.start: p.wall_time for p in predictions}


@pytest.mark.parametrize("hop", [0.25, 0.5, 1.0])
def test_a_burst_in_a_quiet_room_is_placed_at_its_start_not_at_its_first_window_start(model, tmp_path, hop):
    audio, burst = room(30), 12.3
    audio[int(burst * RATE) : int((burst + 3) * RATE)] += band_noise(3, 3000, 11000, 0.3, 1)
    (alert,), heard = alerts(model, audio, tmp_path, hop)
    first = alert.windows[0]
    assert first.start < burst - 3  # the window that first scored began long before the burst
    assert alert.onset == pytest.approx(burst, abs=0.5)
    assert first.start <= alert.onset <= first.end <= alert.stream_time
    # wall_time is the onset's Unix time: the first window's, plus the way into it.
    assert alert.wall_time == pytest.approx(heard[first.start] + (alert.onset - first.start), abs=1e-6)


def test_a_sound_already_going_when_the_stream_begins_has_its_onset_at_the_stream_start(model, tmp_path):
    audio = room(20)
    audio[: 4 * RATE] += band_noise(4, 3000, 11000, 0.3, 1)
    (alert,), _ = alerts(model, audio, tmp_path, 0.5)
    assert alert.windows[0].start == 0.0
    assert alert.onset == 0.0


def envelope_of(samples: np.ndarray, blocks: list[int] | None = None) -> FrameLevels:
    levels = FrameLevels(RATE, seconds=len(samples) / RATE + 1)
    cuts = np.cumsum(blocks or [len(samples)])
    for part in np.split(samples, cuts[cuts < len(samples)]):
        levels.feed(part)
    return levels


def test_a_rumble_that_swells_earlier_in_the_window_does_not_take_the_onset():
    # Room hiss at -60 dBFS, traffic or a fan swelling by 20 dB to -20 dBFS at 1 s, and at 3.2 s a
    # beep at -37 dBFS: 17 dB below the rumble in level, but the only step up where alarms sound.
    rumble = band_noise(5, 40, 150, 0.01, 3)
    rumble[RATE:] *= 10
    beep = np.concatenate([np.zeros(int(3.2 * RATE), np.float32), tone(3000, 1.8, RATE, 0.02)])
    audio = noise(5, RATE, dbfs=-60.0, seed=4) + rumble + beep
    levels = envelope_of(audio)
    assert estimate_onset(levels.envelope(0, len(audio)), 0.0, 5.0) == pytest.approx(3.2, abs=0.05)


def test_steady_sound_and_no_envelope_keep_the_window_start():
    steady = envelope_of(noise(6, RATE, dbfs=-20.0))
    assert estimate_onset(steady.envelope(RATE, 6 * RATE), 1.0, 6.0) == 1.0
    assert estimate_onset(None, 2.5, 7.5) == 2.5


def test_frame_levels_do_not_depend_on_how_the_stream_is_cut_into_blocks():
    audio = noise(3, RATE, dbfs=-30.0, seed=7) + tone(800, 3, RATE, 0.05)
    whole = envelope_of(audio).envelope(0, len(audio))
    cut = envelope_of(audio, [1, 440, 441, 1000, 7, 30000]).envelope(0, len(audio))
    assert (cut.start, cut.frame_seconds) == (whole.start, whole.frame_seconds) == (0.0, 441 / RATE)
    np.testing.assert_allclose(cut.power, whole.power, rtol=1e-5)
    diff = np.diff(audio[: 441 * 3], prepend=0.0).reshape(3, 441)
    np.testing.assert_allclose(whole.power[:3], np.mean(diff**2, axis=1), rtol=1e-5)


def test_an_envelope_holds_only_the_frames_still_kept():
    levels = FrameLevels(RATE, seconds=2.0)
    for part in np.split(noise(10, RATE), 10):
        levels.feed(part)
    old = levels.envelope(0, 10 * RATE)  # asks for all 10 s, 2 s are kept
    assert old.start == pytest.approx(8.0, abs=0.03)
    assert old.start + len(old.power) * old.frame_seconds == pytest.approx(10.0, abs=0.03)
    assert len(levels.envelope(9 * RATE, int(9.5 * RATE)).power) == 25


def test_an_alert_journaled_before_onsets_were_estimated_still_reads(tmp_path):
    # A row as the previous release wrote it: the onset was the first window's start.
    old = {"rule": "glass_break", "label": "glass_breaking", "labels": ["glass_breaking"], "score": 0.91,
           "severity": "critical", "mode": "away", "source": "hall", "onset": 40.0, "stream_time": 45.5,
           "wall_time": 1_700_000_040.0, "message": "Glass", "windows": [{"start": 40.0, "end": 45.0, "score": 0.91}],
           "clip_path": None, "id": "0" * 32}
    with Journal(tmp_path / "alerts.sqlite3") as journal:
        journal._db.execute("INSERT INTO alerts (id, rule, wall_time, payload, raised_at) VALUES (?, ?, ?, ?, ?)",
                            (old["id"], old["rule"], old["wall_time"], json.dumps(old), 1_700_000_046.0))
        (entry,) = journal.entries()
    read = entry.alert.to_json()
    assert {key: read[key] for key in old} == old  # fields added since then take their defaults


def test_the_estimated_onset_and_the_windows_travel_through_the_journal(model, tmp_path):
    audio = room(20)
    audio[int(9.1 * RATE) : int(11 * RATE)] += band_noise(1.9, 3000, 11000, 0.3, 2)
    (alert,), _ = alerts(model, audio, tmp_path, 0.5)
    with Journal(tmp_path / "alerts.sqlite3") as journal:
        journal.append(alert)
        (entry,) = journal.entries(since=alert.wall_time)
    assert entry.alert == alert
    payload = entry.to_json()
    assert payload["onset"] == pytest.approx(9.1, abs=0.5)
    assert payload["windows"][0]["start"] < payload["onset"] < payload["windows"][0]["end"]
