"""Coarse band energies for the dashboard's scrolling spectrogram strip.

Takes the newest stretch of a source's model-rate audio; gives a small
(n_bands, n_columns) matrix of dB values: the log-mel frames pooled into
``n_bands`` equal groups of mel bands and into columns of ``column_seconds``.
Cheap enough to run once per hop next to the model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from monitor.features.logmel import MelFrames
from monitor.features.params import FeatureParams

N_BANDS = 16
COLUMN_SECONDS = 0.25


class BandColumns:
    def __init__(self, params: FeatureParams, n_bands: int = N_BANDS, column_seconds: float = COLUMN_SECONDS) -> None:
        if params.n_mels % n_bands:
            raise ValueError(f"{params.n_mels} mel bands do not split into {n_bands} groups")
        self.params = params
        self.n_bands = n_bands
        self.column_seconds = column_seconds
        # Shown in dB whatever compression the model's input uses.
        self._frames = MelFrames(replace(params, compression="db", top_db=None))

    @property
    def context_samples(self) -> int:
        """Samples needed before a stretch so its first frame is complete."""
        return self.params.n_fft - self.params.hop_length

    def columns(self, samples: np.ndarray, seconds: float) -> np.ndarray:
        """Columns covering the last ``seconds`` of ``samples`` (mono, model rate, with context)."""
        p = self.params
        n_columns = max(1, round(seconds / self.column_seconds))
        frames = self._frames.compute(np.asarray(samples, np.float32).reshape(-1))  # (n_frames, n_mels)
        wanted = max(1, int(seconds * p.sample_rate / p.hop_length))
        frames = frames[-wanted:]
        if len(frames) == 0:
            return np.full((self.n_bands, n_columns), -100.0, np.float32)
        bands = frames.reshape(len(frames), self.n_bands, -1).mean(axis=2)  # (n_frames, n_bands)
        groups = np.array_split(bands, min(n_columns, len(bands)))
        return np.stack([g.mean(axis=0) for g in groups], axis=1).astype(np.float32)
