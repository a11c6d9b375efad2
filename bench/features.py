"""Per-hop cost of the incremental log-mel extractor vs recomputing the window with librosa.

Both run side by side in this process over the same audio, for both front ends
(the pretrained network's Kaldi/log one and the librosa/dB one): the naive way
recomputes the whole 5-s window with librosa at every hop (as the seed notebooks
do); ours feeds the hop's new samples to ``StreamingLogMel`` and assembles the
window from cached frames.

    python bench/features.py [--quick]

The last line holds the figures as name=value pairs.
"""

from __future__ import annotations

import _common  # noqa: F401  (first: it limits BLAS threads before numpy loads)
import argparse
import time

import numpy as np

from _common import naive_features
from monitor.features.logmel import StreamingLogMel
from monitor.features.params import KALDI_LOG_32K, LIBROSA_DB, FeatureParams


def bench(hop_seconds: float, seconds: float, params: FeatureParams) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(int(seconds * params.sample_rate))).astype(np.float32)
    hop = int(hop_seconds * params.sample_rate)
    starts = range(params.window_samples, len(audio) - hop, hop)
    naive_features(audio[: params.window_samples], params)  # warm-up: librosa caches its filterbank

    t0 = time.perf_counter()
    for end in starts:
        naive_features(audio[end - params.window_samples : end], params)
    naive = (time.perf_counter() - t0) / len(starts)

    stream = StreamingLogMel(params)
    stream.feed(audio[: params.window_samples])
    t0 = time.perf_counter()
    for end in starts:
        stream.feed(audio[end : end + hop])
        stream.window(stream.frames_done - params.n_frames)
    ours = (time.perf_counter() - t0) / len(starts)
    return naive, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run (well under a minute)")
    args = parser.parse_args()
    seconds = 60.0 if args.quick else 600.0
    figures = {}
    print(f"{'front end':>10} {'hop':>6} {'librosa ms/hop':>15} {'incremental ms/hop':>19} {'speedup':>8}")
    for name, params in (("kaldi_log", KALDI_LOG_32K), ("librosa_db", LIBROSA_DB)):
        for hop in (1.0, 0.5, 0.25):
            naive, ours = bench(hop, seconds, params)
            print(f"{name:>10} {hop:6.2f} {naive * 1e3:15.2f} {ours * 1e3:19.2f} {naive / ours:7.1f}x")
            figures[f"{name}_speedup_hop_{hop:g}"] = f"{naive / ours:.1f}"
            figures[f"{name}_incremental_ms_hop_{hop:g}"] = f"{ours * 1e3:.2f}"
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
