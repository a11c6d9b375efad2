"""Offline detector for event-level evaluation: sliding windows, per-label thresholds, one alert per run.

Takes a recording's samples, a :class:`~monitor.model.runner.ModelRunner` and a hop;
gives :class:`~monitor.evaluate.events.Detection` records. Windows are the
runtime's: ``logmel`` of the whole recording (the same frames the streaming
extractor computes) cut into ``window_seconds`` windows every ``hop`` seconds, with
the per-window top-dB floor. A label is raised when its score reaches its
threshold, at the stream time the window ends; it is raised again only after it
has dropped below the threshold (one alert per run of windows).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from monitor.evaluate.events import Detection
from monitor.features.logmel import clamp_top_db, logmel
from monitor.model.runner import ModelRunner


def window_scores(runner: ModelRunner, samples: np.ndarray, hop_seconds: float, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(end time of each window in seconds, scores (n_windows, n_labels))."""
    p = runner.metadata.features
    # logmel() floors per clip; the runtime floors per window, so take unfloored frames.
    raw = logmel(samples, replace(p, top_db=None))
    n = p.n_frames
    last_frame = raw.shape[1] - n
    if last_frame < 0:
        return np.empty(0), np.empty((0, len(runner.labels)))
    frames_per_second = p.sample_rate / p.hop_length
    starts = np.unique(np.round(np.arange(0, last_frame / frames_per_second + 1e-9, hop_seconds) * frames_per_second).astype(int))
    starts = starts[starts <= last_frame]
    scores = []
    for i in range(0, len(starts), batch):
        windows = np.stack([clamp_top_db(raw[:, s : s + n], p.top_db) for s in starts[i : i + batch]])
        scores.append(runner.predict(windows))
    ends = (starts * p.hop_length + p.window_samples) / p.sample_rate
    return ends, np.concatenate(scores)


def detections(ends: np.ndarray, scores: np.ndarray, labels: tuple[str, ...], thresholds: dict[str, float],
               alert_labels: set[str]) -> list[Detection]:
    out = []
    for i, label in enumerate(labels):
        if label not in alert_labels:
            continue
        active = scores[:, i] >= thresholds.get(label, 0.5)
        rising = active & ~np.concatenate([[False], active[:-1]])
        out += [Detection(label, float(t)) for t in ends[rising]]
    return sorted(out, key=lambda d: d.time)
