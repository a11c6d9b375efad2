"""Sources with a known, finite sample sequence: files and in-memory arrays.

Takes a function producing the next chunk of samples; gives blocks either as fast
as the consumer asks (offline analysis, each block stamped with the time it was read)
or paced to the wall clock (``realtime``, which makes a recording behave like a live
microphone).
"""

from __future__ import annotations

import abc
import logging
import time

import numpy as np

from monitor.audio.source import AudioBlock, AudioSource, SourceStats, sanitize

log = logging.getLogger(__name__)


class PacedSource(AudioSource):
    def __init__(self, source_id: str, sample_rate: int, channels: int, realtime: bool, block_seconds: float) -> None:
        super().__init__(source_id, sample_rate, channels)
        self.realtime = realtime
        self.block_frames = max(1, int(block_seconds * sample_rate))
        self._position = 0
        self._done = False
        self._t0 = 0.0
        self._wall0 = 0.0
        self._sanitized = 0

    @abc.abstractmethod
    def _next_chunk(self, frames: int) -> np.ndarray | None:
        """Up to ``frames`` samples shaped (n, channels), or None at the end."""

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._wall0 = time.time()

    def read(self) -> AudioBlock | None:
        if self._done:
            return None
        frames = self.block_frames
        if self.realtime:
            # Like a capture ring buffer: everything heard since the last read (whole
            # blocks, at most a second), so a busy consumer catches up in few calls.
            heard = int((time.monotonic() - self._t0) * self.sample_rate) - self._position
            if heard < self.block_frames:
                return None
            frames = min(heard - heard % self.block_frames, max(self.block_frames, self.sample_rate))
        chunk = self._next_chunk(frames)
        if chunk is None or len(chunk) == 0:
            self._done = True
            return None
        chunk, bad = sanitize(chunk)
        if bad and not self._sanitized:
            log.warning("%s: replaced NaN, inf or out-of-range samples with silence", self.id)
        self._sanitized += bad
        # Read faster than real time, audio has no time of day of its own: it is stamped when it
        # is read, never in the future (the rule schedule applies at the time of reading).
        heard = self._wall0 + self._position / self.sample_rate if self.realtime else time.time()
        block = AudioBlock(chunk, heard)
        self._position += len(chunk)
        return block

    @property
    def finished(self) -> bool:
        return self._done

    def stats(self) -> SourceStats:
        status = "finished" if self._done else "playing"
        return SourceStats(ok=True, status=status, sanitized_samples=self._sanitized)


class ArraySource(PacedSource):
    """Samples already in memory (the demo scene, test signals, evaluation mixtures)."""

    def __init__(
        self,
        source_id: str,
        samples: np.ndarray,
        sample_rate: int,
        realtime: bool = False,
        block_seconds: float = 0.1,
    ) -> None:
        data = np.asarray(samples, dtype=np.float32)
        data = data.reshape(len(data), -1)
        super().__init__(source_id, sample_rate, data.shape[1], realtime, block_seconds)
        self._data = data

    def _next_chunk(self, frames: int) -> np.ndarray | None:
        chunk = self._data[self._position : self._position + frames]
        return chunk if len(chunk) else None

    def stop(self) -> None:
        self._done = True
