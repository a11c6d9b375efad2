"""Writes small labelled audio clips (tones and noise) and manifests for training tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile

SR = 22050


def tone(freq: float, seconds: float, level: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (level * np.sin(2 * np.pi * freq * t) + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def noise(seconds: float, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def clip_for(label: str, seconds: float, seed: int) -> np.ndarray:
    if label == "low":
        return tone(200 + 20 * seed, seconds, seed=seed)
    if label == "high":
        return tone(6000 + 100 * seed, seconds, seed=seed)
    return noise(seconds, seed=seed)


def write_dataset(root: Path, labels=("low", "high", "hiss"), per_label: int = 6, extra_rows=()) -> Path:
    """A manifest folder: ``per_label`` clips per label of 2-7 s, spread over folds 1..5."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for label in labels:
        (root / label).mkdir(exist_ok=True)
        for i in range(per_label):
            path = root / label / f"{label}{i}.wav"
            soundfile.write(str(path), clip_for(label, 2.0 + i % 6, i), SR)
            rows.append((f"{label}/{path.name}", label, 1 + i % 5, f"{label}{i}"))
    rows += list(extra_rows)
    with (root / "manifest.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "fold", "group"])
        w.writerows(rows)
    return root


def write_label_map(path: Path, labels=("low", "high", "hiss"), background=("hiss",)) -> Path:
    lines = ["labels:"] + [f"  {label}: [{label}]" for label in labels]
    lines += ["synthetic_silence: silence", f"background: [{', '.join(background)}]"]
    path.write_text("\n".join(lines) + "\n")
    return path
