"""The log-mel extractor matches librosa, incrementally and in one go."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest

from monitor.features.logmel import StreamingLogMel, logmel
from monitor.features.melbank import mel_filterbank
from monitor.features.params import FeatureParams

RATE = 22050
TOLERANCE_DB = 0.05  # max abs difference, away from the window edges
EDGE_FRAMES = 3  # centred frames within n_fft/2 of a window edge see different neighbours


def reference(window: np.ndarray, params: FeatureParams) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=window, sr=params.sample_rate, n_fft=params.n_fft, hop_length=params.hop_length, n_mels=params.n_mels
    )
    return librosa.power_to_db(mel, ref=1.0, top_db=params.top_db)


def scene(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * RATE)) / RATE
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (np.mod(t, 2) < 1)
    return (chirp + 0.05 * rng.standard_normal(len(t)) * np.sin(np.pi * t / 3) ** 2).astype(np.float32)


def test_default_window_is_128_mels_by_216_frames():
    params = FeatureParams()
    assert params.input_shape == (1, 128, 216)
    assert logmel(scene(5.0), params).shape == (128, 216)


def test_clip_features_equal_librosa():
    params = FeatureParams()
    clip = scene(5.0)
    assert np.abs(logmel(clip, params) - reference(clip, params)).max() <= TOLERANCE_DB


@pytest.mark.parametrize("block", [512, 1000, 22050])
def test_streaming_window_matches_librosa_on_the_same_samples(block):
    params = dataclasses.replace(FeatureParams(), top_db=None)  # top_db would couple the edges in
    y = scene(14.0)
    stream = StreamingLogMel(params, history_frames=1000)
    for i in range(0, len(y), block):
        stream.feed(y[i : i + block])
    for first in (0, 87, 301):
        start = first * params.hop_length
        expected = reference(y[start : start + params.window_samples], params)
        got = stream.window(first)
        inner = slice(EDGE_FRAMES, -EDGE_FRAMES)
        assert got.shape == expected.shape
        assert np.abs(got[:, inner] - expected[:, inner]).max() <= TOLERANCE_DB
        if first == 0:  # the stream's own start is zero-padded exactly like librosa's centring
            assert np.abs(got[:, :EDGE_FRAMES] - expected[:, :EDGE_FRAMES]).max() <= TOLERANCE_DB


def test_streaming_computes_each_frame_once():
    params = FeatureParams()
    stream = StreamingLogMel(params)
    # Frame f is centred on sample f*512 and needs samples up to f*512 + 1024: 10 hops give frames 0..8.
    assert stream.feed(np.zeros(params.hop_length * 10, np.float32)) == 9
    assert stream.feed(np.zeros(params.hop_length, np.float32)) == 1
    assert stream.frames_done == 10


def test_old_frames_leave_the_cache():
    params = FeatureParams()
    stream = StreamingLogMel(params, history_frames=300)
    stream.feed(scene(10.0))
    with pytest.raises(IndexError):
        stream.window(0)


def test_top_db_clamps_relative_to_the_window_peak():
    params = FeatureParams()
    y = scene(5.0)
    y[: len(y) // 2] = 0  # digital silence in half the window
    m = logmel(y, params)
    assert m.min() == pytest.approx(m.max() - params.top_db, abs=1e-3)


@pytest.mark.parametrize(
    "rate, n_fft, n_mels, fmin, fmax",
    [(22050, 2048, 128, 0.0, None), (16000, 512, 40, 50.0, 7000.0), (44100, 4096, 64, 20.0, 16000.0), (8000, 256, 20, 1500.0, None)],
)
def test_filterbank_is_librosas_value_for_value(rate, n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(rate, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


def test_the_live_feature_path_does_not_load_librosa_or_scipy():
    # Importing librosa (with scipy and numba) costs the daemon ~130 MB of resident memory.
    code = (
        "import sys; from monitor.features.logmel import StreamingLogMel; from monitor.features.params import FeatureParams; "
        "StreamingLogMel(FeatureParams()).feed(__import__('numpy').zeros(30000, 'float32')); "
        "print(sorted(m for m in ('librosa', 'scipy', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert out.stdout.strip() == "[]"
