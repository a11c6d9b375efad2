"""Synthetic room tone: low-level coloured noise, mains hum and near-silence.

Takes a random generator and a sample rate; gives mono float32 waveforms that stand
in for the quiet rooms the dataset has no recordings of. Used as the 'silence'
class and as the noise floor under short clips (real microphones never give
digital zeros).
"""

from __future__ import annotations

import numpy as np


def room_tone(rng: np.random.Generator, n_samples: int, sample_rate: int) -> np.ndarray:
    """One room-tone waveform at a random level between -90 and -50 dBFS RMS."""
    white = rng.standard_normal(n_samples)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sample_rate)
    # Spectral slope from white (0) to brown (2); most rooms are pink-to-brown.
    slope = rng.uniform(0.0, 2.0)
    shape = 1.0 / np.maximum(freqs, 20.0) ** (slope / 2)
    # Cheap microphones and camera streams stop at 4-8 kHz.
    if rng.random() < 0.5:
        cutoff = rng.uniform(3500, 8000)
        shape *= 1.0 / (1.0 + (freqs / cutoff) ** 8)
    noise = np.fft.irfft(spectrum * shape, n_samples)
    noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    if rng.random() < 0.3:
        # Mains hum (50 or 60 Hz and harmonics) from appliances or ground loops.
        base = rng.choice([50.0, 60.0])
        t = np.arange(n_samples) / sample_rate
        hum = sum(rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) for k in (1, 2, 3))
        noise += rng.uniform(0.3, 3.0) * hum / (np.sqrt(np.mean(hum**2)) + 1e-12)
        noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    level_db = rng.uniform(-90.0, -50.0)
    return (noise * 10 ** (level_db / 20)).astype(np.float32)
