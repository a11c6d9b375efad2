"""Small signal generators and file writers shared by tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.25) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, rate: int, dbfs: float = -30.0, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(int(seconds * rate))
    return (x * 10 ** (dbfs / 20)).astype(np.float32)


def write(path: Path, samples: np.ndarray, rate: int, subtype: str | None = None) -> Path:
    soundfile.write(str(path), samples, rate, subtype=subtype)
    return path


def rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))
