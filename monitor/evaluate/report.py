"""Clip-level evaluation report: markdown tables and a confusion-matrix PNG.

Takes per-clip scores, true labels, the label set and thresholds; gives a
:class:`ClipReport` (numbers) that renders as markdown and draws its confusion
matrix with matplotlib (imported only when drawing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.evaluate.clip_metrics import ClassScores, confusion, per_class, threshold_scores


@dataclass
class ClipReport:
    title: str
    labels: tuple[str, ...]
    matrix: np.ndarray
    argmax: list[ClassScores]
    at_threshold: list[ClassScores]
    thresholds: dict[str, float]
    accuracy: float
    n_clips: int

    @property
    def macro_f1(self) -> float:
        present = [c.f1 for c in self.argmax if c.support]
        return float(np.mean(present)) if present else 0.0

    def recall(self, label: str) -> float:
        return next(c.recall for c in self.at_threshold if c.label == label)

    def markdown(self, png_name: str | None = None) -> str:
        lines = [
            f"### {self.title}",
            "",
            f"{self.n_clips} clips; accuracy (top label) **{self.accuracy:.3f}**, macro-F1 **{self.macro_f1:.3f}**",
            "",
            "| label | clips | precision | recall | F1 | threshold | precision @thr | recall @thr |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for a, t in zip(self.argmax, self.at_threshold):
            lines.append(
                f"| {a.label} | {a.support} | {a.precision:.3f} | {a.recall:.3f} | {a.f1:.3f} | "
                f"{self.thresholds.get(a.label, 0.5):.3f} | {t.precision:.3f} | {t.recall:.3f} |"
            )
        lines += ["", "precision/recall/F1: top-scoring label per clip; '@thr': label reported when its score >= its threshold (one-vs-rest).", ""]
        if png_name:
            lines += [f"![confusion matrix]({png_name})", ""]
        lines += ["Confusion matrix (rows = true, columns = predicted):", "",
                  "| true \\ predicted | " + " | ".join(str(i) for i in range(len(self.labels))) + " |",
                  "|---|" + "---:|" * len(self.labels)]
        for i, label in enumerate(self.labels):
            lines.append(f"| {i} {label} | " + " | ".join(str(v) for v in self.matrix[i]) + " |")
        return "\n".join(lines) + "\n"

    def draw(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.matrix.sum(axis=1, keepdims=True)
        norm = self.matrix / np.maximum(rows, 1)
        n = len(self.labels)
        fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 1.0 + 0.5 * n), dpi=100)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(n), self.labels, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(n), [f"{label} ({int(r)})" for label, r in zip(self.labels, rows[:, 0])], fontsize=8)
        for i in range(n):
            for j in range(n):
                if self.matrix[i, j]:
                    ax.text(j, i, str(self.matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true (clips)")
        ax.set_title(f"{self.title}\naccuracy {self.accuracy:.3f}, macro-F1 {self.macro_f1:.3f}", fontsize=9)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)


def clip_report(title: str, scores: np.ndarray, y_true: np.ndarray, labels: tuple[str, ...], thresholds: dict[str, float]) -> ClipReport:
    y_pred = scores.argmax(axis=1)
    matrix = confusion(y_true, y_pred, len(labels))
    return ClipReport(
        title=title, labels=labels, matrix=matrix, argmax=per_class(matrix, labels),
        at_threshold=threshold_scores(scores, y_true, labels, thresholds), thresholds=dict(thresholds),
        accuracy=float((y_pred == y_true).mean()) if len(y_true) else 0.0, n_clips=len(y_true),
    )
