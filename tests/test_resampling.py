"""Every input rate and channel count arrives as mono at the model's rate, with its pitch and level."""

import numpy as np
import pytest

from monitor.audio.resample import MonoResampler
from signals import rms_dbfs, tone

OUT = 22050  # the librosa-front-end models' rate


def run_through(resampler: MonoResampler, x: np.ndarray, block: int) -> np.ndarray:
    parts = [resampler.process(x[i : i + block]) for i in range(0, len(x), block)]
    parts.append(resampler.process(x[:0], last=True))
    return np.concatenate(parts)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


@pytest.mark.parametrize("out", [OUT, 32000])  # 32 kHz: the pretrained MobileNet's front end
@pytest.mark.parametrize("rate", [8000, 16000, 22050, 32000, 44100, 48000])
def test_mono_input_is_resampled_preserving_pitch_length_and_level(rate, out):
    x = tone(1000, 3.0, rate)[:, None]
    y = run_through(MonoResampler(rate, out), x, block=rate // 10)
    assert abs(len(y) - 3.0 * out) <= 2
    assert dominant_hz(y[out // 2 : -out // 2], out) == pytest.approx(1000, abs=2)
    assert rms_dbfs(y[out // 2 : -out // 2]) == pytest.approx(rms_dbfs(x[:, 0]), abs=0.1)


def test_stereo_is_downmixed_to_the_mean_of_the_channels():
    left = tone(440, 2.0, 44100, amplitude=0.4)
    right = np.zeros_like(left)
    y = run_through(MonoResampler(44100, OUT), np.stack([left, right], axis=1), block=4410)
    assert rms_dbfs(y[OUT // 2 : -OUT // 2]) == pytest.approx(rms_dbfs(left) - 6.02, abs=0.1)
    assert dominant_hz(y[OUT // 2 : -OUT // 2], OUT) == pytest.approx(440, abs=2)


def test_block_boundaries_leave_no_clicks():
    x = tone(3000, 2.0, 48000)[:, None]
    whole = run_through(MonoResampler(48000, OUT), x, block=len(x))
    pieces = run_through(MonoResampler(48000, OUT), x, block=777)
    n = min(len(whole), len(pieces))
    assert np.abs(whole[:n] - pieces[:n]).max() < 1e-4
