"""Frame levels: the short-time energy of a stream, computed once per sample.

Takes a stream's mono samples in order, in blocks of any size; gives, for any recent range of
samples, the :class:`~monitor.onset.LevelEnvelope` of the frames in it: the mean
square of the signal's first difference per ``frame``-sample frame, frames at
multiples of ``frame`` from the stream's first sample. Each sample is handled once
when it arrives, so a window's envelope costs a copy of a few hundred numbers however
much the windows overlap; :mod:`monitor.onset` reads it to place an alert's onset.
"""

from __future__ import annotations

import numpy as np

from monitor.onset import LevelEnvelope

# Fine enough to place an onset to ~10 ms, long enough to span a voice's pitch period.
FRAME_SECONDS = 0.02


class FrameLevels:
    """Mean square of the first difference of every complete frame; the newest ``seconds`` of frames are kept.

    The first difference (``x[n] - x[n-1]``, +6 dB per octave) keeps rumble and hum, where
    traffic, ventilation and music put most of their energy, from masking the step up of
    the sounds alerts are about: on validation streams it placed 48 % of onsets within
    0.5 s against 45 % for the plain level (a 100–400 Hz Butterworth high-pass: 49 %).
    """

    def __init__(self, sample_rate: int, seconds: float, frame_seconds: float = FRAME_SECONDS) -> None:
        if seconds <= 0:
            raise ValueError("seconds must be positive")
        self.sample_rate = sample_rate
        self.frame = max(1, round(frame_seconds * sample_rate))
        self.capacity = int(np.ceil(seconds * sample_rate / self.frame))
        self._power = np.zeros(self.capacity, dtype=np.float32)
        self.frames_done = 0  # complete frames so far; frame i covers samples [i*frame, (i+1)*frame)
        self._partial = np.empty(0, dtype=np.float32)  # differenced samples of the frame being filled
        self._last = np.float32(0.0)  # the previous block's last sample

    @property
    def samples_seen(self) -> int:
        """Samples fed so far (the next sample to feed is this stream sample)."""
        return self.frames_done * self.frame + len(self._partial)

    def feed(self, samples: np.ndarray) -> None:
        """Add mono samples (any length)."""
        x = samples.reshape(-1).astype(np.float32, copy=False)
        if len(x) == 0:
            return
        diff = np.diff(x, prepend=self._last)
        self._last = x[-1]
        y = np.concatenate([self._partial, diff])
        n = len(y) // self.frame
        self._partial = y[n * self.frame :].copy()
        if n == 0:
            return
        frames = y[: n * self.frame].reshape(n, self.frame)
        power = np.einsum("ij,ij->i", frames, frames) / self.frame
        slots = np.arange(self.frames_done, self.frames_done + n) % self.capacity
        self._power[slots[-self.capacity :]] = power[-self.capacity :]
        self.frames_done += n

    def envelope(self, start_sample: int, end_sample: int) -> LevelEnvelope:
        """The complete, still kept frames overlapping samples [start_sample, end_sample)."""
        first = max(max(0, start_sample) // self.frame, self.frames_done - self.capacity)
        stop = max(first, min(-(-end_sample // self.frame), self.frames_done))
        slots = np.arange(first, stop) % self.capacity
        return LevelEnvelope(first * self.frame / self.sample_rate, self.frame / self.sample_rate, self._power[slots])
