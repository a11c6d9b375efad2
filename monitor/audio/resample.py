"""Downmix to mono and resample a block stream to the model's rate.

Takes blocks of (n, channels) float32 samples at the source's rate; gives mono
float32 at the target rate, continuous across blocks (soxr's streaming resampler,
the one librosa uses, keeps its filter state between calls).
"""

from __future__ import annotations

import numpy as np
import soxr


class MonoResampler:
    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        """Mono samples at ``out_rate`` for this block; ``last`` flushes the filter tail."""
        mono = block.mean(axis=1, dtype=np.float32) if block.ndim == 2 else block.astype(np.float32, copy=False)
        if self._stream is None:
            return mono
        return self._stream.resample_chunk(mono, last=last)
