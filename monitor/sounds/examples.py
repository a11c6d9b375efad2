"""Example recordings of a sound to learn: read, checked and trimmed to the sounding part.

Takes audio file paths and the model's sample rate; gives an :class:`Example` per usable
recording (the sound, and the room around it as background) and a :class:`Skipped`
record, with the reason and what to do, for every recording that cannot be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.errors import UserError

FRAME_SECONDS = 0.02
SILENT_DBFS = -60.0  # loudest 20-ms frame below this: nothing was recorded
CLIPPED_LEVEL = 0.999
CLIPPED_FRACTION = 1e-3  # more than 0.1 % of samples at full scale: the sound is distorted
RANGE_DB = 30.0  # the sound is the frames within this of its loudest frame ...
ABOVE_FLOOR_DB = 10.0  # ... and this far above the recording's floor
STEADY_DB = 6.0  # loudest frame less than this above the floor: the sound fills the recording
MIN_SOUND_SECONDS = 0.05
MARGIN_SECONDS = 0.25  # kept around the sound: its attack and decay are part of it


@dataclass(frozen=True)
class Example:
    path: Path
    sound: np.ndarray  # the sounding part, float32 at the model's rate
    room: np.ndarray  # the rest of the recording (background), possibly empty


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str  # says what is wrong and what to do


def read_recording(path: Path, sample_rate: int) -> np.ndarray:
    """A whole recording, mono at ``sample_rate`` (UserError naming the file if it cannot be read)."""
    from monitor.train.cache import read_mono

    try:
        return read_mono(path, sample_rate)
    except (ValueError, OSError) as exc:
        raise UserError(f"{path}: {exc}: check it is an audio file (WAV, FLAC, OGG, MP3, AIFF)") from None


def read_examples(paths: list[Path], sample_rate: int) -> tuple[list[Example], list[Skipped]]:
    """Every recording either as an Example or as Skipped."""
    examples: list[Example] = []
    skipped: list[Skipped] = []
    for path in paths:
        try:
            audio = read_recording(path, sample_rate)
        except UserError as exc:
            skipped.append(Skipped(path, str(exc).removeprefix(f"{path}: ")))
            continue
        result = trim(audio, sample_rate)
        if isinstance(result, str):
            skipped.append(Skipped(path, result))
        else:
            examples.append(Example(path, *result))
    return examples, skipped


def frame_levels(audio: np.ndarray, frame: int) -> np.ndarray:
    """RMS level in dBFS of consecutive ``frame``-sample frames (the last partial frame included)."""
    n = max(1, -(-len(audio) // frame))
    padded = np.zeros(n * frame, np.float64)
    padded[: len(audio)] = audio
    rms = np.sqrt(np.mean(padded.reshape(n, frame) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


def trim(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray] | str:
    """(sound, room) of one recording, or why it cannot be used."""
    if np.mean(np.abs(audio) >= CLIPPED_LEVEL) > CLIPPED_FRACTION:
        return "clipped (too loud, the sound is distorted): record it again further away or with less gain"
    frame = int(FRAME_SECONDS * sample_rate)
    db = frame_levels(audio, frame)
    peak, floor = float(db.max()), float(np.percentile(db, 10))
    if peak < SILENT_DBFS:
        return f"silent (loudest part {peak:.0f} dBFS): check the microphone and record the sound again"
    if peak - floor < STEADY_DB:  # a steady sound recorded from start to end (a vacuum cleaner)
        return audio.astype(np.float32), np.zeros(0, np.float32)
    active = np.flatnonzero(db >= max(peak - RANGE_DB, min(floor + ABOVE_FLOOR_DB, peak - 3.0)))
    margin = int(MARGIN_SECONDS * sample_rate)
    a = max(0, int(active[0]) * frame - margin)
    b = min(len(audio), (int(active[-1]) + 1) * frame + margin)
    if (int(active[-1]) + 1 - int(active[0])) * frame < MIN_SOUND_SECONDS * sample_rate:
        return ("no sound left after trimming (only a click stands out above the background): "
                "record the whole sound")
    room = np.concatenate([audio[:a], audio[b:]]).astype(np.float32)
    return audio[a:b].astype(np.float32), room
