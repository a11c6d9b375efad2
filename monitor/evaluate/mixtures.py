"""Synthetic event streams: held-out events inserted into held-out background (DCASE 2017 task 2).

Takes event clips (path, label), background clips and a seed; writes long
recordings ``<name>.flac`` with sidecar ``<name>.csv`` (onset_s,offset_s,label,ebr_db) of
the inserted events. Each event is trimmed to its active part (frames within 30 dB
of its loudest), scaled to an event-to-background ratio (event RMS over background
RMS in the same span) from the given list, and added at a random time with at
least ``gap`` seconds of background between events. The background bed is the
background clips concatenated in random order with short crossfades.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from monitor.evaluate.events import Event, write_annotations
from monitor.train.cache import read_mono

EBRS_DB = (-6.0, 0.0, 6.0)


@dataclass(frozen=True)
class Mixture:
    path: Path
    events: list[Event]
    duration: float


def active_span(samples: np.ndarray, frame: int = 512, range_db: float = 30.0) -> tuple[int, int]:
    """First and last sample of the frames within ``range_db`` of the loudest frame."""
    n = max(1, len(samples) // frame)
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, -1) ** 2, axis=1) + 1e-20) if len(samples) >= frame else np.array([np.sqrt(np.mean(samples**2) + 1e-20)])
    db = 20 * np.log10(rms)
    active = np.flatnonzero(db >= db.max() - range_db)
    return int(active[0] * frame), int(min(len(samples), (active[-1] + 1) * frame))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def background_bed(clips: list[np.ndarray], seconds: float, sr: int, rng: np.random.Generator, fade: float = 0.05) -> np.ndarray:
    """Background clips in random order, crossfaded, until ``seconds`` are filled."""
    n, f = int(seconds * sr), int(fade * sr)
    out = np.zeros(n + f, np.float32)
    pos = 0
    ramp = np.linspace(0, 1, f, dtype=np.float32)
    while pos < n:
        clip = clips[rng.integers(len(clips))].copy()
        if len(clip) > 2 * f:
            clip[:f] *= ramp
            clip[-f:] *= ramp[::-1]
        end = min(len(out), pos + len(clip))
        out[pos:end] += clip[: end - pos]
        pos = end - f if end - f > pos else end
    return out[:n]


def build_mixtures(
    events: list[tuple[Path, str]], backgrounds: list[Path], out_dir: Path, sample_rate: int,
    seconds: float = 120.0, per_mixture: int = 4, ebrs_db: tuple[float, ...] = EBRS_DB,
    gap: float = 8.0, lead_in: float = 6.0, seed: int = 0,
) -> list[Mixture]:
    """Write mixtures until every event has been used once at every EBR."""
    rng = np.random.default_rng(seed)
    bg_audio = [read_mono(p, sample_rate) for p in backgrounds]
    bg_audio = [b for b in bg_audio if rms(b) > 1e-5]
    if not bg_audio:
        raise ValueError("no background clips with sound in them")
    jobs = [(path, label, ebr) for ebr in ebrs_db for path, label in events]
    order = rng.permutation(len(jobs))
    out_dir.mkdir(parents=True, exist_ok=True)
    mixtures = []
    for m, start in enumerate(range(0, len(jobs), per_mixture)):
        bed = background_bed(bg_audio, seconds, sample_rate, rng)
        mix = bed.copy()
        placed: list[Event] = []
        slot = (seconds - lead_in) / per_mixture
        for k, j in enumerate(order[start : start + per_mixture]):
            path, label, ebr = jobs[j]
            audio = read_mono(path, sample_rate)
            a, b = active_span(audio)
            event = audio[a:b]
            length = len(event) / sample_rate
            room = max(0.0, slot - length - gap)
            onset = lead_in + k * slot + float(rng.uniform(0, room))
            i0 = int(onset * sample_rate)
            i1 = min(len(mix), i0 + len(event))
            target = rms(bed[i0:i1]) * 10 ** (ebr / 20)
            mix[i0:i1] += event[: i1 - i0] * (target / max(rms(event), 1e-12))
            placed.append(Event(onset, i1 / sample_rate, label, ebr))
        peak = float(np.max(np.abs(mix)))
        if peak > 0.99:
            mix *= 0.99 / peak
        path = out_dir / f"mix{m:03d}.flac"
        soundfile.write(str(path), mix, sample_rate, subtype="PCM_16")
        write_annotations(path.with_suffix(".csv"), placed)
        mixtures.append(Mixture(path, placed, seconds))
    return mixtures
