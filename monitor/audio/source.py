"""The audio-source interface every input implements.

A source gives :class:`AudioBlock` records — float32 samples at the source's own
rate and channel count, with the Unix time of their first sample — through a
non-blocking :meth:`AudioSource.read`, and reports its health in
:class:`SourceStats`. Conversion to the model's rate happens downstream.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitor.errors import AudioInputError

# Sample rates a source may have: telephone audio to studio recordings. Outside it a header is
# damaged: 1 Hz leaves no window to analyse, 1 GHz makes minutes of samples "0.00 s of audio".
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 384000
# Float audio is full scale at 1.0; a sample 40 dB beyond that is garbage (1e30 would overflow the level).
MAX_SAMPLE = 100.0


@dataclass(frozen=True)
class AudioBlock:
    samples: np.ndarray  # (n, channels) float32
    wall_time: float  # Unix time of the first sample


@dataclass(frozen=True)
class SourceStats:
    """Health counters, as exposed on MQTT ``health`` and in the dashboard."""

    ok: bool
    status: str
    overruns: int = 0  # xruns reported by the audio driver
    dropped_samples: int = 0  # samples lost because processing fell behind
    restarts: int = 0  # reconnects of a device or stream
    sanitized_samples: int = 0  # NaN, inf or out-of-range samples replaced by silence


class AudioSource(abc.ABC):
    """A producer of audio blocks. Use as: start(); read() until finished; stop().

    ``recording`` is True for a recorded file: when something was heard in it is a position in
    the recording (stream time), not the time of day at which it was read.
    """

    recording = False

    def __init__(self, source_id: str, sample_rate: int, channels: int) -> None:
        self.id = source_id
        self.sample_rate = sample_rate
        self.channels = channels

    @abc.abstractmethod
    def start(self) -> None:
        """Begin producing (open the device, start the process, start the clock)."""

    @abc.abstractmethod
    def read(self) -> AudioBlock | None:
        """The next block if one is available now, else None. Never blocks for long."""

    @property
    @abc.abstractmethod
    def finished(self) -> bool:
        """True once the source will never produce another block (end of file)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Release the device / process. Safe to call more than once."""

    @abc.abstractmethod
    def stats(self) -> SourceStats:
        """Current health."""


class ObservedSource(AudioSource):
    """Another source, with a callback run on every read: the processing loop's heartbeat
    for the daemon's watchdog, or a read count in tests."""

    def __init__(self, inner: AudioSource, on_read: Callable[[], None]) -> None:
        super().__init__(inner.id, inner.sample_rate, inner.channels)
        self.recording = inner.recording
        self.inner = inner
        self._on_read = on_read

    def start(self) -> None:
        self.inner.start()

    def read(self) -> AudioBlock | None:
        self._on_read()
        return self.inner.read()

    @property
    def finished(self) -> bool:
        return self.inner.finished

    def stop(self) -> None:
        self.inner.stop()

    def stats(self) -> SourceStats:
        return self.inner.stats()


def sanitize(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace NaN, inf and samples beyond :data:`MAX_SAMPLE` by 0 (silence); returns the clean
    block and how many were replaced."""
    bad = ~(np.abs(samples) <= MAX_SAMPLE)  # one comparison catches NaN (never <=) and inf
    count = int(bad.sum())
    if count:
        samples = np.where(bad, 0.0, samples).astype(np.float32)
    return samples, count


def check_sample_rate(rate: int, where: str) -> None:
    """Raise AudioInputError for a rate outside :data:`MIN_SAMPLE_RATE`..:data:`MAX_SAMPLE_RATE`."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioInputError(f"{where}: sample rate {rate} Hz is outside the supported {MIN_SAMPLE_RATE}.."
                              f"{MAX_SAMPLE_RATE} Hz (a damaged header? resample with 'ffmpeg -i IN -ar 16000 out.wav')")
