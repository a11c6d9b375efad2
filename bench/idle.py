"""CPU and memory of one live source in a quiet and a busy room.

One microphone-like source (paced in real time, 0.1-s blocks as a capture callback
delivers them) runs through the real pipeline with the default rules' level gate,
in three conditions: digital silence, quiet room noise at -60 dBFS, and continuous
sound (noise with events, every window inferred). Each condition is also run
without the gate, side by side, to show what skipping inference on windows that
cannot trigger any rule saves.

    python bench/idle.py [--quick] [--model FILE] [--hop 1.0]
"""

from __future__ import annotations

import _common  # noqa: F401  (first: it limits BLAS threads before numpy loads)
import argparse
from pathlib import Path

import numpy as np

from _common import REPO, Cost, figures_line, load_model, measure, model_args, rss_mb, scene_audio
from monitor.audio.paced import ArraySource
from monitor.pipeline import Pipeline
from monitor.rules import load_rules


def condition_audio(name: str, seconds: float, rate: int) -> np.ndarray:
    n = int(seconds * rate)
    if name == "silence":
        return np.zeros(n, np.float32)
    if name == "quiet_room":
        return (np.random.default_rng(1).standard_normal(n) * 10 ** (-60 / 20)).astype(np.float32)
    return scene_audio(seconds, rate)


def run(model, audio: np.ndarray, hop: float, gate: float | None) -> tuple[Cost, int]:
    rate = model.metadata.features.sample_rate
    source = ArraySource("room", audio, rate, realtime=True, block_seconds=0.1)
    pipeline = Pipeline([source], model, hop_seconds=hop, gate_dbfs=gate)
    cost = Cost()
    with measure(cost):
        for _ in pipeline.run():
            pass
    return cost, pipeline.stats().inferred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_args(parser)
    parser.add_argument("--hop", type=float, default=1.0)
    parser.add_argument("--rules", type=Path, default=REPO / "rules.yaml")
    args = parser.parse_args()
    model = load_model(args.model)
    gate = load_rules(args.rules, model.labels).min_gate_dbfs
    seconds = 8.0 if args.quick else 60.0
    rate = model.metadata.features.sample_rate
    figures: dict[str, object] = {}
    print(f"one real-time source, {seconds:g} s per run, hop {args.hop:g} s, level gate {gate:g} dBFS")
    print(f"{'condition':>12} {'gated %core':>12} {'ungated %core':>14} {'inferred (gated/ungated)':>26}")
    for name in ("silence", "quiet_room", "continuous"):
        audio = condition_audio(name, seconds, rate)
        gated, n_gated = run(model, audio, args.hop, gate)
        ungated, n_all = run(model, audio, args.hop, None)
        pct_gated, pct_all = 100 * gated.cpu / seconds, 100 * ungated.cpu / seconds
        print(f"{name:>12} {pct_gated:11.2f}% {pct_all:13.2f}% {n_gated:>13}/{n_all}")
        figures[f"cpu_pct_{name}"] = f"{pct_gated:.2f}"
        figures[f"cpu_pct_{name}_ungated"] = f"{pct_all:.2f}"
    figures["peak_rss_mb"] = f"{rss_mb():.0f}"
    print(f"peak RSS {rss_mb():.0f} MB")
    print(figures_line(figures))


if __name__ == "__main__":
    main()
