"""The Slaney mel filterbank, in numpy alone.

Takes the sample rate, FFT size, number of bands and band limits; gives the
(n_mels, 1 + n_fft/2) float32 weight matrix of ``librosa.filters.mel`` with its
defaults (Slaney mel scale, Slaney area normalisation), value for value. Written
out here because importing librosa (and with it scipy and numba) grew the
daemon's resident memory by ~130 MB for this one matrix.
"""

from __future__ import annotations

import numpy as np

F_SP = 200.0 / 3  # Hz per mel in the linear part (below 1 kHz)
MIN_LOG_HZ = 1000.0
MIN_LOG_MEL = MIN_LOG_HZ / F_SP
LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: float) -> float:
    return MIN_LOG_MEL + float(np.log(hz / MIN_LOG_HZ)) / LOGSTEP if hz >= MIN_LOG_HZ else hz / F_SP


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    hz = F_SP * mels
    log_part = mels >= MIN_LOG_MEL
    hz[log_part] = MIN_LOG_HZ * np.exp(LOGSTEP * (mels[log_part] - MIN_LOG_MEL))
    return hz


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    fmax = float(sample_rate) / 2 if fmax is None else fmax
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    band_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(band_hz)
    ramps = np.subtract.outer(band_hz, fft_hz)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(rising, falling))
    weights *= (2.0 / (band_hz[2 : n_mels + 2] - band_hz[:n_mels]))[:, np.newaxis]  # equal area per band
    return weights
