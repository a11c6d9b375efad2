"""Ring buffer: a fixed-size store of recent samples keyed by absolute sample index.

Takes blocks of samples (one writer: an audio callback or the processing loop);
gives any still-held range back by sample index, new samples to a reader cursor,
and the wall-clock time at which any sample was heard. Memory never grows: the
oldest samples are overwritten, and samples a reader had not yet read when they
were overwritten are counted as dropped.

The writer never takes a lock, so it is safe to call from a PortAudio callback:
it copies into preallocated memory and then publishes the new end index with a
single attribute store. A reader checks after copying that the writer did not lap
it meanwhile (a seqlock without the lock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Anchor:
    """Sample ``index`` was heard at Unix time ``wall_time``."""

    index: int
    wall_time: float


class RingBuffer:
    def __init__(self, capacity: int, sample_rate: int, channels: int = 1) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.sample_rate = sample_rate
        self.channels = channels
        self._data = np.zeros((capacity, channels), dtype=np.float32)
        self.end = 0  # index one past the newest sample
        self._anchor = Anchor(0, 0.0)

    @property
    def start(self) -> int:
        """Index of the oldest sample still held."""
        return max(0, self.end - self.capacity)

    def write(self, block: np.ndarray, wall_time: float | None = None) -> None:
        """Append samples, shape (n,) or (n, channels); ``wall_time`` is when the first was heard."""
        frames = block.reshape(len(block), -1)
        n = len(frames)
        if n == 0:
            return
        if n > self.capacity:
            # Only the newest `capacity` samples can survive; skip copying the rest.
            frames, skipped = frames[-self.capacity :], n - self.capacity
        else:
            skipped = 0
        first = self.end + skipped
        pos = first % self.capacity
        head = min(len(frames), self.capacity - pos)
        self._data[pos : pos + head] = frames[:head]
        self._data[: len(frames) - head] = frames[head:]
        if wall_time is not None:
            self._anchor = Anchor(self.end, wall_time)
        self.end = first + len(frames)  # publish last: readers only look below `end`

    def read(self, start: int, stop: int) -> np.ndarray:
        """A copy of samples ``start:stop`` (shape (n, channels)).

        Raises IndexError if part of the range is not held (overwritten or not yet written).
        """
        if start > stop or start < self.start or stop > self.end:
            raise IndexError(f"samples {start}:{stop} not held (have {self.start}:{self.end})")
        out = self._copy(start, stop)
        if start < self.end - self.capacity:  # the writer lapped us while copying
            raise IndexError(f"samples {start}:{stop} were overwritten while being read")
        return out

    def _copy(self, start: int, stop: int) -> np.ndarray:
        pos, n = start % self.capacity, stop - start
        head = min(n, self.capacity - pos)
        return np.concatenate([self._data[pos : pos + head], self._data[: n - head]])

    def time_of(self, index: int) -> float:
        """Unix time at which sample ``index`` was heard (from the latest anchor)."""
        anchor = self._anchor
        return anchor.wall_time + (index - anchor.index) / self.sample_rate


class RingReader:
    """A cursor that takes each new sample of a ring buffer once, counting any it missed."""

    def __init__(self, ring: RingBuffer) -> None:
        self.ring = ring
        self.position = ring.end
        self.dropped = 0  # samples overwritten before this reader got to them

    def read_new(self) -> tuple[int, np.ndarray]:
        """(index of the first returned sample, samples) for everything new since the last call."""
        while True:
            end = self.ring.end
            if self.position < self.ring.start:
                self.dropped += self.ring.start - self.position
                self.position = self.ring.start
            start = self.position
            try:
                data = self.ring.read(start, end)
            except IndexError:
                continue  # lapped during the copy: account for it and retry
            self.position = end
            return start, data
