"""Clip-level classification metrics (numpy only).

Takes true and predicted label indices, or per-clip scores; gives confusion
matrices, per-class precision/recall/F1, macro-F1, accuracy and per-label
decision thresholds. A class with no true and no predicted clips has undefined
precision/recall; it counts as 0 only where it has support or predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def clip_scores(window_scores: np.ndarray, clip_of: np.ndarray) -> np.ndarray:
    """Average window scores per clip: (n_clips, n_labels), clips in index order 0..max."""
    n = int(clip_of.max()) + 1 if len(clip_of) else 0
    sums = np.zeros((n, window_scores.shape[1]), np.float64)
    np.add.at(sums, clip_of, window_scores)
    counts = np.bincount(clip_of, minlength=n)[:, None]
    return sums / np.maximum(counts, 1)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> np.ndarray:
    """Rows = true label, columns = predicted label."""
    m = np.zeros((n_labels, n_labels), np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


@dataclass(frozen=True)
class ClassScores:
    label: str
    support: int
    precision: float
    recall: float
    f1: float


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def per_class(matrix: np.ndarray, labels: tuple[str, ...]) -> list[ClassScores]:
    out = []
    for i, label in enumerate(labels):
        tp = matrix[i, i]
        p, r, f = _prf(tp, matrix[:, i].sum() - tp, matrix[i, :].sum() - tp)
        out.append(ClassScores(label, int(matrix[i, :].sum()), p, r, f))
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> float:
    """Mean F1 over the labels that occur in ``y_true``."""
    m = confusion(y_true, y_pred, n_labels)
    present = [i for i in range(n_labels) if m[i, :].sum()]
    if not present:
        return 0.0
    return float(np.mean([_prf(m[i, i], m[:, i].sum() - m[i, i], m[i, :].sum() - m[i, i])[2] for i in present]))


def best_threshold(scores: np.ndarray, positive: np.ndarray, lo: float = 0.2, hi: float = 0.9) -> float:
    """The one-vs-rest threshold in [lo, hi] with the highest F1 (ties: the higher threshold).

    ``scores``: this label's score per clip; ``positive``: whether the clip is this label.
    Without positives there is nothing to tune: returns 0.5.
    """
    if not positive.any():
        return 0.5
    best_t, best_f = 0.5, -1.0
    for t in np.round(np.arange(lo, hi + 1e-9, 0.025), 3):
        detected = scores >= t
        tp = float(np.sum(detected & positive))
        f = _prf(tp, float(np.sum(detected & ~positive)), float(np.sum(~detected & positive)))[2]
        if f >= best_f:
            best_t, best_f = float(t), f
    return best_t


def threshold_scores(scores: np.ndarray, y_true: np.ndarray, labels: tuple[str, ...], thresholds: dict[str, float]) -> list[ClassScores]:
    """One-vs-rest precision/recall/F1 per label when label l is 'detected' at score >= threshold."""
    out = []
    for i, label in enumerate(labels):
        t = thresholds.get(label, 0.5)
        detected, positive = scores[:, i] >= t, y_true == i
        p, r, f = _prf(float(np.sum(detected & positive)), float(np.sum(detected & ~positive)), float(np.sum(~detected & positive)))
        out.append(ClassScores(label, int(positive.sum()), p, r, f))
    return out


def collapse(scores: np.ndarray, y_true: np.ndarray, labels: tuple[str, ...], merged: set[str],
             name: str = "any_background") -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Merge ``merged`` labels into one (scores summed): confusions among them stop counting."""
    keep = [label for label in labels if label not in merged]
    gone = [labels.index(label) for label in labels if label in merged]
    if not gone:
        return scores, y_true, labels
    new_scores = np.concatenate([scores[:, [labels.index(k) for k in keep]], scores[:, gone].sum(axis=1, keepdims=True)], axis=1)
    mapping = np.array([keep.index(label) if label in keep else len(keep) for label in labels])
    return new_scores, mapping[y_true], tuple(keep) + (name,)
