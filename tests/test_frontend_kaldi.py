"""The pretrained MobileNet's front end, streamed, equals a plain whole-window reference.

The reference (tests/efficientat_reference.py) is written from the description in
../shared/pretrained/README.md with torch.stft, a different STFT, padding and windowing code
path from the runtime's numpy one.
"""

from __future__ import annotations

import numpy as np
import pytest

from monitor.features.logmel import StreamingLogMel, logmel
from monitor.features.params import KALDI_LOG_32K

pytest.importorskip("torch")  # the reference is torch code

from efficientat_reference import efficientat_logmel as reference  # noqa: E402

P = KALDI_LOG_32K
TOLERANCE = 1e-3  # max abs difference of model-input values (their range is about -3..+3)
EDGE_FRAMES = 3  # frames within n_fft/2 of a window edge see other neighbours in a stream


def scene(seconds: float, rate: int = 32000) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * rate)) / rate
    chirp = 0.3 * np.sin(2 * np.pi * (300 + 900 * t) * t) * (np.mod(t, 1.5) < 0.7)
    return (chirp + 0.03 * rng.standard_normal(len(t))).astype(np.float32)


def test_a_5_s_window_is_128_bands_by_501_frames():
    assert P.input_shape == (1, 128, 501)
    assert logmel(scene(5.0), P).shape == (128, 501)


def test_whole_clip_features_equal_the_reference_everywhere():
    clip = scene(5.0)
    assert np.abs(logmel(clip, P) - reference(clip)).max() <= TOLERANCE


@pytest.mark.parametrize("block", [320, 1000, 4096, 32000])
def test_streamed_windows_equal_the_reference_on_the_same_samples(block):
    y = scene(13.0)
    stream = StreamingLogMel(P, history_frames=1400)
    for i in range(0, len(y), block):
        stream.feed(y[i : i + block])
    stream.flush()
    for first in (0, 150, 799):  # the stream's start, its middle and its (flushed) end
        start = first * P.hop_length
        window = y[start : start + P.window_samples]
        expected = reference(window)
        got = stream.window(first)
        inner = slice(EDGE_FRAMES, -EDGE_FRAMES)
        assert got.shape == expected.shape
        assert np.abs(got[:, inner] - expected[:, inner]).max() <= TOLERANCE
    # The stream's own ends are padded exactly as the whole-clip reference pads a clip.
    whole = reference(y)
    assert np.abs(stream.window(0) - whole[:, :501]).max() <= TOLERANCE
    assert np.abs(stream.window(stream.frames_done - 501) - whole[:, -501:]).max() <= TOLERANCE


def test_pre_emphasis_carries_one_sample_across_blocks():
    y = scene(6.0)
    one = StreamingLogMel(P)
    one.feed(y)
    split = StreamingLogMel(P)
    for i in range(0, len(y), 321):  # blocks that never line up with the hop
        split.feed(y[i : i + 321])
    assert one.frames_done == split.frames_done
    np.testing.assert_allclose(one.window(50), split.window(50), atol=1e-5)


def test_each_frame_is_computed_once():
    stream = StreamingLogMel(P)
    # Reflect padding needs the first 513 samples; frame f is centred on sample f*320.
    assert stream.feed(np.zeros(512, np.float32)) == 0
    assert stream.feed(np.zeros(320 * 10 - 512, np.float32)) == 9
    assert stream.feed(np.zeros(320, np.float32)) == 1
