"""Onset: when, inside the window that first crossed a threshold, the sound most likely began.

Takes a window's level envelope (:class:`LevelEnvelope`, mean square per short frame,
made by :class:`monitor.stream.levels.FrameLevels` from the samples, whatever the
model's input features are); gives the stream time of the envelope's strongest rise
(:func:`estimate_onset`), or the window's start when the level never rises clearly
(the sound was already there when the window began, e.g. at the start of a stream).

Why the strongest rise, and anywhere in the window: a model crosses its threshold once
enough of a sound is in the window, and how much is enough depends on the model and the
sound. With the shipped model on validation streams (hop 0.5 s) the onset lies 0.9–4.8 s
(10th–90th percentile, median 2.5 s) before the end of the first window that scores, and
in its last hop, the part the previous window did not cover, for under 1 % of events: that
part cannot be searched alone. An event adds energy to what was there; the largest step up
in the window that scored is the best model-free guess of its start. Tried on the same
streams and not kept: the earliest rise within 1–9 dB of the largest (fewer onsets within
0.5 s), rises in 3–16 frequency bands (no better), and favouring rises after which the
label's score was low (+4 points, for per-label score history in the rule engine).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# A rise is the mean level over RISE_AFTER seconds after a frame boundary minus the mean
# over RISE_BEFORE seconds before it (clipped at the envelope's edges). 0.3 s either side
# smooths single loud frames of a busy background and still places the step to a frame;
# chosen on validation-fold streams (tried 0.05–1 s).
RISE_AFTER = 0.3
RISE_BEFORE = 0.3
# Below this, the window holds no step up worth the name (steady sound or steady noise).
MIN_RISE_DB = 3.0
FLOOR = 1e-10  # -100 dBFS: digital silence, so a sound after it is a large, finite rise


@dataclass(frozen=True)
class LevelEnvelope:
    """Mean square (full scale = 1) of consecutive frames; frame 0 begins at stream second ``start``."""

    start: float
    frame_seconds: float
    power: np.ndarray = field(repr=False)


def estimate_onset(envelope: LevelEnvelope | None, start: float, end: float) -> float:
    """The stream time in [start, end] at which the sound in that window most likely began.

    ``start``/``end`` are the window's span; ``envelope`` should cover it (None, or no
    rise of at least MIN_RISE_DB: returns ``start``).
    """
    if envelope is None or len(envelope.power) < 2:
        return start
    fs = envelope.frame_seconds
    # Frame boundaries inside the window with at least one frame on either side; the
    # context is clipped at the envelope's edges (the stream's start has none before it).
    first = max(1, int(np.ceil((start - envelope.start) / fs)))
    last = min(len(envelope.power) - 1, int((end - envelope.start) / fs))
    if last < first:
        return start
    level = 10.0 * np.log10(envelope.power.astype(np.float64) + FLOOR)
    total = np.concatenate([[0.0], np.cumsum(level)])
    i = np.arange(first, last + 1)
    hi = np.minimum(len(level), i + max(1, round(RISE_AFTER / fs)))
    lo = np.maximum(0, i - max(1, round(RISE_BEFORE / fs)))
    rise = (total[hi] - total[i]) / (hi - i) - (total[i] - total[lo]) / (i - lo)
    best = int(np.argmax(rise))
    if rise[best] < MIN_RISE_DB:
        return start
    return min(end, max(start, envelope.start + i[best] * fs))
