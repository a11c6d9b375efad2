"""Audio files via libsndfile (WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF, ...).

Takes a path; gives its samples block by block at the file's own rate and
channel count, as fast as asked or paced in real time. Unreadable files are a
:class:`~monitor.errors.AudioInputError` with the reason; a file that breaks off
mid-way (truncated) ends the stream early with a warning instead of an error.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile

from monitor.audio.paced import PacedSource
from monitor.audio.source import check_sample_rate
from monitor.errors import AudioInputError

log = logging.getLogger(__name__)


class FileSource(PacedSource):
    recording = True
    def __init__(self, path: Path, realtime: bool = False, block_seconds: float | None = None) -> None:
        if not path.exists():
            raise AudioInputError(f"{path}: no such file")
        if path.is_dir():
            raise AudioInputError(f"{path}: is a folder, expected an audio file")
        if path.stat().st_size == 0:
            raise AudioInputError(f"{path}: the file is empty (0 bytes)")
        try:
            self._file = soundfile.SoundFile(str(path))
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            raise AudioInputError(
                f"{path}: cannot decode audio ({exc}); readable formats are WAV, FLAC, OGG, MP3 and AIFF — "
                "convert others with 'ffmpeg -i INPUT out.wav' or pass them as a stream URL"
            ) from None
        if self._file.frames == 0:
            self._file.close()
            raise AudioInputError(f"{path}: contains no audio samples")
        try:
            check_sample_rate(self._file.samplerate, str(path))
        except AudioInputError:
            self._file.close()
            raise
        self.path = path
        # Offline reads in large blocks for speed; paced reads in small ones for latency.
        seconds = block_seconds or (0.1 if realtime else 1.0)
        super().__init__(str(path), self._file.samplerate, self._file.channels, realtime, seconds)

    @property
    def duration(self) -> float:
        return self._file.frames / self._file.samplerate

    def _next_chunk(self, frames: int) -> np.ndarray | None:
        if self._file.closed:
            return None
        try:
            chunk = self._file.read(frames, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            log.warning("%s: stopped reading at %.1f s: %s (truncated file?)", self.id, self._position / self.sample_rate, exc)
            return None
        return chunk if len(chunk) else None

    def stop(self) -> None:
        self._done = True
        self._file.close()
