"""How many sources the streaming pipeline keeps up with, vs the naive per-window pipeline.

Side by side in one process, over the same audio:
- ours: N file-like sources through one Pipeline (incremental log-mel, one batched
  inference per round over all sources), as fast as possible;
- naive: per source, every hop recomputes the whole 5-s window with
  ``librosa.feature.melspectrogram`` and runs one inference per window (the seed notebooks' way).

Throughput is audio-seconds processed per CPU-second; on one core that is the number of
real-time sources that core can carry. For two cores, two worker processes run the same
workload at once. A final paced run checks that N real-time sources really keep up:
every window must come out less than one hop after its audio arrived.

    python bench/throughput.py [--quick] [--model FILE] [--hop 1.0]
"""

from __future__ import annotations

import _common  # noqa: F401  (first: it limits BLAS threads before numpy loads)
import argparse
import multiprocessing
import time

import numpy as np

from _common import Cost, figures_line, load_model, measure, model_args, naive_features, scene_audio
from monitor.audio.paced import ArraySource
from monitor.pipeline import Pipeline


def ours(model_path, n_sources: int, seconds: float, hop: float) -> tuple[int, Cost]:
    model = load_model(model_path)
    rate = model.metadata.features.sample_rate
    audio = scene_audio(seconds, rate)
    sources = [ArraySource(f"s{i}", audio, rate, block_seconds=hop) for i in range(n_sources)]
    cost = Cost()
    with measure(cost):
        windows = sum(1 for _ in Pipeline(sources, model, hop_seconds=hop).run())
    return windows, cost


def naive_window(window: np.ndarray, p, model) -> np.ndarray:  # type: ignore[no-untyped-def]
    return model.predict(naive_features(window, p)[None].astype(np.float32))


def naive(model_path, n_sources: int, seconds: float, hop: float) -> tuple[int, Cost]:
    model = load_model(model_path)
    p = model.metadata.features
    audio = scene_audio(seconds, p.sample_rate)
    step = int(hop * p.sample_rate)
    windows = 0
    cost = Cost()
    naive_window(audio[: p.window_samples], p, model)  # warm-up: librosa builds and caches its filterbank
    with measure(cost):
        for _ in range(n_sources):
            for start in range(0, len(audio) - p.window_samples + 1, step):
                naive_window(audio[start : start + p.window_samples], p, model)
                windows += 1
    return windows, cost


def _worker(args: tuple) -> float:
    _, cost = ours(*args)
    return cost.wall


def two_cores(model_path, n_sources: int, seconds: float, hop: float) -> float:
    """Audio-seconds per wall-second with two processes each running n_sources."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_worker, [(model_path, 1, 5.0, hop)] * 2)  # warm-up: imports, model load
        t0 = time.perf_counter()
        pool.map(_worker, [(model_path, n_sources, seconds, hop)] * 2)
        wall = time.perf_counter() - t0
    return 2 * n_sources * seconds / wall


def paced_lag(model_path, n_sources: int, seconds: float, hop: float) -> float:
    """Worst delay (s) between a window's audio arriving and its prediction, with N live sources."""
    model = load_model(model_path)
    rate = model.metadata.features.sample_rate
    audio = scene_audio(seconds, rate)
    sources = [ArraySource(f"s{i}", audio, rate, realtime=True, block_seconds=0.1) for i in range(n_sources)]
    pipeline = Pipeline(sources, model, hop_seconds=hop)
    worst = 0.0
    t0 = None
    for prediction in pipeline.run():
        if t0 is None:
            t0 = time.monotonic() - prediction.end  # first window: its audio has just arrived
        worst = max(worst, time.monotonic() - t0 - prediction.end)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_args(parser)
    parser.add_argument("--hop", type=float, default=1.0)
    args = parser.parse_args()
    seconds = 60.0 if args.quick else 300.0
    n = 8 if args.quick else 32

    ours(args.model, 1, 6.0, args.hop)  # warm-up
    w_ours, c_ours = ours(args.model, n, seconds, args.hop)
    w_naive, c_naive = naive(args.model, max(1, n // 4), seconds, args.hop)
    rt_ours = n * seconds / c_ours.cpu
    rt_naive = max(1, n // 4) * seconds / c_naive.cpu
    print(f"hop {args.hop:g} s, {seconds:g} s of audio per source")
    print(f"ours : {n} sources, {w_ours} windows, {c_ours.cpu:.2f} CPU-s -> {rt_ours:.0f} real-time sources per core")
    print(f"naive: {max(1, n // 4)} sources, {w_naive} windows, {c_naive.cpu:.2f} CPU-s -> {rt_naive:.0f} per core")
    rt_two = two_cores(args.model, n, seconds, args.hop)
    print(f"ours on 2 cores (2 processes): {rt_two:.0f} real-time sources")
    check = max(1, int(rt_ours * 0.8))
    lag = paced_lag(args.model, check, 8.0 if args.quick else 20.0, args.hop)
    keeps_up = lag < args.hop
    print(f"paced check: {check} live sources, worst window lag {lag:.2f} s -> {'keeps up' if keeps_up else 'FALLS BEHIND'}")
    print(
        figures_line(
            {
                "sources_realtime_1core": int(rt_ours),
                "sources_realtime_2cores": int(rt_two),
                "naive_sources_1core": int(rt_naive),
                "speedup_vs_naive": f"{rt_ours / rt_naive:.1f}",
                "paced_sources": check,
                "paced_worst_lag_s": f"{lag:.2f}",
            }
        )
    )


if __name__ == "__main__":
    main()
