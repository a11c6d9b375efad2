"""A plain whole-clip reference of the front end the pretrained mn04_as network was trained on.

Written from the table "Its front end" in ../shared/pretrained/README.md, in float64 torch, with
none of the runtime's feature code, so tests can hold the runtime (whole-clip or streamed) and the
network against it:

- audio: mono, 32 kHz (other rates resampled with soxr);
- pre-emphasis ``y[n] = x[n] - 0.97 x[n-1]``, keeping the clip's length (the README's 501 frames
  for 5 s need that), with ``x[-1] = 0``;
- STFT: n_fft 1024, an 800-sample symmetric Hann centred in the 1024 (``torch.stft`` centres a
  shorter window), hop 320, centred frames with reflect padding; power ``|X|^2``, 513 bins;
- 128 triangular Kaldi/HTK mel filters (``mel(f) = 1127 ln(1 + f/700)``) equally spaced in mel
  from 0 to 15 kHz, on the 512 bins below Nyquist (the Nyquist bin gets weight 0), peak 1, no
  area normalisation;
- ``(log(mel + 1e-5) + 4.5) / 5``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile
import soxr
import torch

SAMPLE_RATE = 32000
N_FFT = 1024
WINDOW = 800
HOP = 320
N_MELS = 128
FMAX = 15000.0


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log1p(hz / 700.0)


def kaldi_mel_bank() -> torch.Tensor:
    """(128, 513) float64 filter bank; each row is one triangle, its last column (Nyquist) zero."""
    top = 1127.0 * math.log1p(FMAX / 700.0)
    edges = torch.linspace(0.0, top, N_MELS + 2, dtype=torch.float64)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    bins = hz_to_mel(torch.arange(N_FFT // 2, dtype=torch.float64) * SAMPLE_RATE / N_FFT)[None, :]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    # Kaldi gives weight only strictly inside (left, right); outside, both slopes are <= 0.
    bank = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return torch.cat([bank, torch.zeros(N_MELS, 1, dtype=torch.float64)], dim=1)


def efficientat_logmel(audio: np.ndarray) -> np.ndarray:
    """Model input for a whole mono 32-kHz clip: (128 bands, 1 + len // 320 frames) float32."""
    x = torch.from_numpy(np.asarray(audio, dtype=np.float64))
    x = torch.cat([x[:1], x[1:] - 0.97 * x[:-1]])
    spectrum = torch.stft(
        x, n_fft=N_FFT, hop_length=HOP, win_length=WINDOW,
        window=torch.hann_window(WINDOW, periodic=False, dtype=torch.float64),
        center=True, pad_mode="reflect", return_complex=True,
    )
    mel = kaldi_mel_bank() @ spectrum.abs().square()
    return ((torch.log(mel + 1e-5) + 4.5) / 5.0).to(torch.float32).numpy()


def read_clip(path: Path) -> np.ndarray:
    """A clip's samples as mono float at 32 kHz (channels averaged, resampled with soxr)."""
    data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    return mono if rate == SAMPLE_RATE else soxr.resample(mono, rate, SAMPLE_RATE)
