"""The Slaney mel filterbank, in numpy alone.

Takes the sample rate, FFT size, number of bands and band limits; gives the
(n_mels, 1 + n_fft/2) float32 weight matrix of ``librosa.filters.mel`` with its
defaults (Slaney mel scale, Slaney area normalisation), value for value, or the
Kaldi/HTK filters the AudioSet-pretrained network was trained on. Written
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


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None, norm: str = "slaney"
) -> np.ndarray:
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
    if norm == "slaney":
        weights *= (2.0 / (band_hz[2 : n_mels + 2] - band_hz[:n_mels]))[:, np.newaxis]  # equal area per band
    return weights


def kaldi_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Kaldi/HTK mel filters, (n_mels, 1 + n_fft/2) float32.

    Mel scale ``1127 ln(1 + f/700)``; ``n_mels`` triangles with edges equally spaced in
    mel between ``fmin`` and ``fmax``, evaluated in the mel domain at the ``n_fft/2``
    bin frequencies below Nyquist (the Nyquist bin gets weight 0, as Kaldi builds them);
    peak 1, no area normalisation.
    """
    fmax = float(sample_rate) / 2 if fmax is None else fmax
    bin_mel = 1127.0 * np.log1p(np.arange(n_fft // 2) * (sample_rate / n_fft) / 700.0)
    edges = np.linspace(1127.0 * np.log1p(fmin / 700.0), 1127.0 * np.log1p(fmax / 700.0), n_mels + 2)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(weights, ((0, 0), (0, 1))).astype(np.float32)


def filterbank_for(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None,
                   scale: str, norm: str) -> np.ndarray:
    """The mel filters a front end declares: ``scale`` 'slaney' or 'kaldi', ``norm`` 'slaney' or 'none'."""
    if scale == "kaldi":
        weights = kaldi_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
        if norm == "slaney":
            hz = 700.0 * np.expm1(np.linspace(1127.0 * np.log1p(fmin / 700.0),
                                              1127.0 * np.log1p((fmax or sample_rate / 2) / 700.0), n_mels + 2) / 1127.0)
            weights *= (2.0 / (hz[2:] - hz[:-2]))[:, None].astype(np.float32)
        return weights
    return mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, norm)
