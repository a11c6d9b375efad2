"""Clip-level evaluation of a model on labelled clips.

Takes a window scorer (ONNX Runtime via ``ModelRunner.predict`` or PyTorch), a
:class:`~monitor.train.augment.WindowMaker` and cached clip features; gives per-clip
scores (window scores averaged over each clip) and the :class:`ClipReport`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.evaluate.clip_metrics import best_threshold, clip_scores
from monitor.evaluate.report import ClipReport, clip_report
from monitor.train.augment import WindowMaker
from monitor.train.cache import ClipFeatures

Scorer = Callable[[np.ndarray], np.ndarray]


@dataclass
class EvalSet:
    """Evaluation windows grouped per clip (``clip_of[i]`` = clip index of window i)."""

    windows: np.ndarray  # (n_windows, n_mels, n_frames)
    clip_of: np.ndarray
    targets: np.ndarray  # (n_clips,) label index


def build_eval_set(
    maker: WindowMaker, feats: list[ClipFeatures], labels: tuple[str, ...], variant: str = "full",
    silence: str | None = None, n_silence: int = 0, seed: int = 0,
) -> EvalSet:
    """Deterministic windows of every clip, plus ``n_silence`` synthetic silence clips if asked."""
    windows, clip_of, targets = [], [], []
    for i, f in enumerate(feats):
        w = maker.eval_windows(f, variant)
        windows.append(w)
        clip_of += [i] * len(w)
        targets.append(labels.index(f.clip.label))
    if silence and n_silence and silence in labels:
        windows.append(maker.silence_windows(n_silence, seed))
        clip_of += list(range(len(feats), len(feats) + n_silence))
        targets += [labels.index(silence)] * n_silence
    return EvalSet(np.concatenate(windows).astype(np.float32), np.array(clip_of), np.array(targets))


def score_windows(scorer: Scorer, windows: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate([scorer(windows[i : i + batch]) for i in range(0, len(windows), batch)])


def clip_thresholds(scorer: Scorer, full: EvalSet, band: EvalSet, labels: tuple[str, ...]) -> dict[str, float]:
    """Per label, the threshold with the best one-vs-rest F1 over the clips, full band and
    band-limited together (what training writes into the model, and the floor of calibration)."""
    scores = np.concatenate([clip_scores(score_windows(scorer, s.windows), s.clip_of) for s in (full, band)])
    targets = np.concatenate([full.targets, band.targets])
    return {label: best_threshold(scores[:, i], targets == i) for i, label in enumerate(labels)}


def evaluate_clips(
    scorer: Scorer, maker: WindowMaker, feats: list[ClipFeatures], labels: tuple[str, ...],
    thresholds: dict[str, float], title: str, variant: str = "full",
    silence: str | None = None, n_silence: int = 0, seed: int = 0,
) -> tuple[ClipReport, np.ndarray, np.ndarray]:
    """Report plus (clip scores, true label indices). Synthetic silence clips are added when asked."""
    data = build_eval_set(maker, feats, labels, variant, silence, n_silence, seed)
    scores = clip_scores(score_windows(scorer, data.windows), data.clip_of)
    return clip_report(title, scores, data.targets, labels, thresholds), scores, data.targets


def write_reports(reports: list[ClipReport], directory: Path, stem: str, header: str = "") -> Path:
    """``<stem>.md`` with every report and a ``<stem>-<n>.png`` confusion matrix each."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = [header] if header else []
    for n, report in enumerate(reports, 1):
        png = f"{stem}-{n}.png"
        report.draw(directory / png)
        parts.append(report.markdown(png))
    path = directory / f"{stem}.md"
    path.write_text("\n".join(parts))
    return path
