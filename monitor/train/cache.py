"""Feature cache: log-mel matrices of every clip, computed once and kept on disk.

Takes :class:`~monitor.train.dataset.Clip` records and :class:`FeatureParams`; gives
per clip two float16 (n_mels, frames) dB matrices *without* the top-dB floor (the
floor is applied per window after mixing, as the runtime applies it per window):

- ``full``: the clip as recorded;
- ``band``: the clip resampled down to 8, 11.025 or 16 kHz and back up (chosen per
  clip from its path), i.e. exactly what a cheap microphone or a camera stream
  looks like after the runtime's resampling.

Features come from :func:`monitor.features.logmel.logmel`, the runtime's own code.
Cache files are keyed by the file's path, size, mtime and the feature parameters,
so a changed clip or setting is recomputed. Undecodable clips are reported as skipped.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile
import soxr

from monitor.features.logmel import MelFrames, logmel
from monitor.features.params import FeatureParams
from monitor.train.dataset import Clip, Skipped
from monitor.train.roomtone import room_tone

log = logging.getLogger(__name__)
BAND_RATES = (8000, 11025, 16000)
VARIANTS = ("full", "band")


@dataclass
class ClipFeatures:
    clip: Clip
    full: np.ndarray  # (n_mels, frames) float16 dB, no top-dB floor
    band: np.ndarray


def read_mono(path: Path, sample_rate: int) -> np.ndarray:
    """Decode an audio file to mono float32 at ``sample_rate`` (raises ValueError when unreadable)."""
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ValueError(f"cannot decode audio: {exc}") from None
    if len(data) == 0:
        raise ValueError("no audio samples")
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise ValueError("audio contains NaN or infinite samples")
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
    return mono


def band_limit(samples: np.ndarray, sample_rate: int, low_rate: int) -> np.ndarray:
    """What a ``low_rate`` recording of the same sound looks like after upsampling."""
    down = soxr.resample(samples, sample_rate, low_rate)
    return soxr.resample(down, low_rate, sample_rate).astype(np.float32)[: len(samples)]


def band_rate_for(path: Path) -> int:
    """The band-limit sample rate used for a clip (stable, spread over clips)."""
    return BAND_RATES[int(hashlib.sha1(path.name.encode()).hexdigest(), 16) % len(BAND_RATES)]


def raw_params(params: FeatureParams) -> FeatureParams:
    """The same features without the top-dB floor (applied later, per window)."""
    return replace(params, top_db=None)


class FeatureCache:
    def __init__(self, directory: Path, params: FeatureParams) -> None:
        self.directory = directory
        self.params = params
        self._raw = raw_params(params)
        self._frames = MelFrames(self._raw)
        directory.mkdir(parents=True, exist_ok=True)

    def _key(self, path: Path) -> Path:
        st = path.stat()
        text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{self._raw}|v1"
        return self.directory / (hashlib.sha1(text.encode()).hexdigest() + ".npz")

    def compute(self, samples: np.ndarray) -> np.ndarray:
        return logmel(samples, self._raw, self._frames).astype(np.float16)

    def get(self, clip: Clip) -> ClipFeatures:
        """Features of one clip, from the cache or computed now (ValueError if undecodable)."""
        key = self._key(clip.path)
        if key.is_file():
            try:
                with np.load(key) as z:
                    return ClipFeatures(clip, z["full"], z["band"])
            except (OSError, ValueError, KeyError):
                log.warning("cache file %s unreadable, recomputing", key)
        samples = read_mono(clip.path, self.params.sample_rate)
        full = self.compute(samples)
        band = self.compute(band_limit(samples, self.params.sample_rate, band_rate_for(clip.path)))
        tmp = key.with_suffix(".tmp.npz")
        np.savez(tmp, full=full, band=band)
        tmp.replace(key)
        return ClipFeatures(clip, full, band)

    def load_all(self, clips: list[Clip], progress: bool = True) -> tuple[list[ClipFeatures], list[Skipped]]:
        """Features of every decodable clip, and the clips skipped as undecodable."""
        out: list[ClipFeatures] = []
        skipped: list[Skipped] = []
        for i, clip in enumerate(clips, 1):
            try:
                out.append(self.get(clip))
            except ValueError as exc:
                skipped.append(Skipped(str(clip.path), f"corrupt audio: {exc}"))
            if progress and (i % 100 == 0 or i == len(clips)):
                print(f"\rfeatures {i}/{len(clips)}", end="\n" if i == len(clips) else "", file=sys.stderr, flush=True)
        return out, skipped

    def room_tones(self, count: int, seed: int) -> list[np.ndarray]:
        """``count`` synthetic room-tone feature matrices (one window each), cached by seed."""
        key = self.directory / f"roomtone_{hashlib.sha1(f'{self._raw}|{count}|{seed}|v1'.encode()).hexdigest()}.npy"
        if key.is_file():
            return list(np.load(key))
        rng = np.random.default_rng(seed)
        n = self.params.window_samples
        feats = np.stack([self.compute(room_tone(rng, n, self.params.sample_rate)) for _ in range(count)])
        np.save(key, feats)
        return list(feats)
