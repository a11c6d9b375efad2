"""Shared helpers for the benchmarks: model lookup, test audio and CPU-time measurement."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI does (monitor/cli.py)

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # this checkout's monitor (not the installed one); test helpers

from monitor.model.runner import ModelRunner  # noqa: E402
from monitor.shipped import model_path  # noqa: E402


def model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--model", type=Path, default=model_path(), help="ONNX model (default: shipped)")


def load_model(path: Path, threads: int = 1) -> ModelRunner:
    return ModelRunner(path, threads=threads)


def scene_audio(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Room noise with loud broadband events every few seconds: every window gets inferred."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    audio = 0.01 * rng.standard_normal(n)
    for start in range(0, n, 3 * rate):
        length = min(n - start, rate // 2)
        audio[start : start + length] += 0.3 * rng.standard_normal(length) * np.hanning(length)
    return audio.astype(np.float32)


@dataclass
class Cost:
    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def measure(cost: Cost):  # type: ignore[no-untyped-def]
    """Wall and process CPU time (all threads) spent inside the block."""
    w0, c0 = time.perf_counter(), time.process_time()
    yield cost
    cost.wall, cost.cpu = time.perf_counter() - w0, time.process_time() - c0


def rss_mb() -> float:
    """Peak resident set size of this process, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def figures_line(figures: dict[str, object]) -> str:
    return " ".join(f"{k}={v}" for k, v in figures.items())


def naive_features(window: np.ndarray, p) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The model's input for one whole window, recomputed from scratch with librosa (the seed notebooks' way).

    librosa's STFT and mel filters for the librosa/dB front end; for the pretrained
    network's Kaldi/log front end, librosa's STFT (symmetric Hann of ``win_length``,
    reflect padding) with the Kaldi filters applied to its power spectrum.
    """
    import librosa
    import scipy.signal

    if p.mel_scale == "slaney":
        mel = librosa.feature.melspectrogram(y=window, sr=p.sample_rate, n_fft=p.n_fft, hop_length=p.hop_length, n_mels=p.n_mels)
        return librosa.power_to_db(mel, ref=1.0, top_db=p.top_db)
    from monitor.features.melbank import kaldi_filterbank

    y = np.concatenate([window[:1], window[1:] - p.preemphasis * window[:-1]])
    win = scipy.signal.get_window("hann", p.win_length or p.n_fft, fftbins=p.window == "hann_periodic")
    spec = librosa.stft(y, n_fft=p.n_fft, hop_length=p.hop_length, win_length=p.win_length, window=win,
                        center=True, pad_mode=p.pad_mode)
    mel = kaldi_filterbank(p.sample_rate, p.n_fft, p.n_mels, p.fmin, p.fmax) @ (np.abs(spec) ** 2)
    return (np.log(mel + p.log_eps) + p.log_offset) * p.log_scale
