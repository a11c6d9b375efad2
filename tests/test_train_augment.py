"""Training and evaluation windows: shapes, the runtime's top-dB floor, event placement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.features.params import FeatureParams
from monitor.train.augment import WindowMaker, place, trim
from monitor.train.config import AugmentConfig
from monitor.train.cache import ClipFeatures
from monitor.train.dataset import Clip


def feats(frames: int, loud: slice) -> ClipFeatures:
    db = np.full((128, frames), -100.0, np.float32)
    db[:, loud] = -20.0
    clip = Clip(Path(f"x{frames}.wav"), "glass", "glass", 1, "g")
    return ClipFeatures(clip, db.astype(np.float16), db.astype(np.float16))


def maker(config: AugmentConfig = AugmentConfig()) -> WindowMaker:
    rng = np.random.default_rng(0)
    tones = [np.full((128, 216), -80.0 + rng.uniform(-5, 5), np.float32) for _ in range(5)]
    return WindowMaker(FeatureParams(), tones, [feats(300, slice(0, 300))], config)


def test_trim_drops_the_silent_padding_around_an_event():
    power = np.full((4, 100), 1e-10)
    power[:, 30:40] = 1.0
    assert trim(power).shape == (4, 10)


def test_training_windows_have_the_window_shape_and_the_top_db_floor():
    m, rng = maker(), np.random.default_rng(1)
    for f in (feats(40, slice(0, 20)), feats(216, slice(0, 30)), feats(500, slice(100, 400))):
        w = m.train_window(f, rng)
        assert w.shape == (128, 216) and w.dtype == np.float32
        assert w.max() - w.min() <= 80.0 + 1e-3
    assert m.train_window(None, rng, silence=True).shape == (128, 216)


def test_a_short_event_lands_anywhere_in_the_training_window():
    m, rng = maker(), np.random.default_rng(2)
    event = feats(216, slice(0, 20))  # a 5-s clip whose event sits in its first half second
    starts = []
    for _ in range(40):
        w = m.train_window(event, rng)
        starts.append(int(np.argmax(w.mean(axis=0) > w.mean() + 10)))
    assert max(starts) > 100 and min(starts) < 50


def loud_onset_clip() -> ClipFeatures:
    """A long sound whose onset is its loudest moment."""
    clip = feats(400, slice(0, 400))
    db = clip.full.astype(np.float32)
    db[:, 0:5] = 0.0
    return ClipFeatures(clip.clip, db.astype(np.float16), db.astype(np.float16))


def onset_frames(m: WindowMaker, n: int = 200) -> list[int]:
    rng, clip = np.random.default_rng(3), loud_onset_clip()
    return [int(np.argmax(m.train_window(clip, rng).mean(axis=0))) for _ in range(n)]


def test_with_peak_anywhere_an_event_that_has_only_just_begun_is_trained_on_too():
    # Streaming windows that end just after an onset must appear in training, or the model
    # alerts a whole window late.
    peaks = onset_frames(maker(AugmentConfig(p_peak_anywhere=0.5)))
    assert sum(p >= 216 - 43 for p in peaks) >= 10  # onset in the window's last second
    assert max(peaks) < 216 - 8 + 5  # but never cut at the very end


def test_placing_a_clip_cuts_what_falls_outside_the_window():
    power = np.arange(10, dtype=np.float32)[None, :].repeat(2, axis=0)
    assert place(power, 6, -7).tolist()[0] == [7, 8, 9, 0, 0, 0]
    assert place(power, 6, 3).tolist()[0] == [0, 0, 0, 0, 1, 2]
    assert not place(power, 6, 6).any() and not place(power, 6, -10).any()


def test_evaluation_windows_cover_long_clips_and_are_deterministic():
    m = maker()
    long = feats(500, slice(0, 500))
    a, b = m.eval_windows(long), m.eval_windows(long)
    assert a.shape == (3, 128, 216) and np.array_equal(a, b)
    assert m.eval_windows(feats(50, slice(0, 50))).shape == (1, 128, 216)


def test_reverberation_adds_a_decaying_tail_after_a_sound_and_nothing_before_it():
    from monitor.train.augment import reverberate

    power = np.zeros((4, 200), np.float32)
    power[:, 50] = 1.0  # an impulse at frame 50 (0.5 s at a 10-ms hop)
    wet = reverberate(power, 0.01, rt60=0.5, wet=0.3)
    assert np.all(wet[:, :50] == 0)
    tail = wet[0, 51:]
    assert np.all(np.diff(tail) < 0) and tail[0] > 0
    # 60 dB down after rt60 (50 frames): a millionth of the power 0.5 s earlier.
    assert tail[50] / tail[0] == pytest.approx(1e-6, rel=0.01)


def test_windows_for_the_pretrained_front_end_are_its_input_shape_and_finite():
    from monitor.features.params import KALDI_LOG_32K

    rng = np.random.default_rng(4)
    tones = [np.full((128, 501), -2.0 + rng.uniform(-0.2, 0.2), np.float32) for _ in range(5)]
    clip = Clip(Path("g.wav"), "glass", "glass", 1, "g")
    log_feats = np.full((128, 300), -2.0, np.float32)
    log_feats[:, 100:140] = 1.0
    f = ClipFeatures(clip, log_feats.astype(np.float16), log_feats.astype(np.float16))
    m = WindowMaker(KALDI_LOG_32K, tones, [f], AugmentConfig())
    for _ in range(10):
        w = m.train_window(f, rng)
        assert w.shape == (128, 501) and np.isfinite(w).all()


def test_stretching_plays_a_sound_faster_or_slower_keeping_its_level():
    from monitor.train.augment import stretch

    power = np.zeros((2, 100), np.float32)
    power[:, 20:40] = 1.0  # 0.2 s of sound
    fast, slow = stretch(power, 1.25), stretch(power, 0.8)
    assert fast.shape == (2, 80) and slow.shape == (2, 125)
    assert (fast[0] > 0.5).sum() == pytest.approx(16, abs=1) and (slow[0] > 0.5).sum() == pytest.approx(25, abs=1)
    assert fast.max() == slow.max() == 1.0
    assert np.array_equal(stretch(power, 1.0), power)


def test_shifting_bands_moves_the_spectrum_and_repeats_the_edge_band():
    from monitor.train.augment import shift_bands

    power = np.arange(6, dtype=np.float32)[:, None].repeat(3, axis=1)
    assert shift_bands(power, 2)[:, 0].tolist() == [0, 0, 0, 1, 2, 3]
    assert shift_bands(power, -2)[:, 0].tolist() == [2, 3, 4, 5, 5, 5]
    assert shift_bands(power, 0) is power


def test_warped_training_windows_keep_the_window_shape_and_differ_from_unwarped_ones():
    clip = feats(300, slice(50, 120))
    plain = maker(AugmentConfig(p_peak_anywhere=0.0)).train_window(clip, np.random.default_rng(5))
    warped_maker = maker(AugmentConfig(p_peak_anywhere=0.0, p_warp=1.0))
    warped = warped_maker.train_window(clip, np.random.default_rng(5))
    assert warped.shape == plain.shape == (128, 216)
    assert not np.array_equal(warped, plain)
