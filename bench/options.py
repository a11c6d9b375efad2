"""Inference options for the shipped model: ORT session settings, batch size, quantised variants.

Measured side by side in one run on the same random log-mel windows:
- graph optimisation level (disabled / basic / extended / all) and intra-op threads
  (1 / 2): ms per window for one window and in a batch of 32, and CPU-ms per window
  (with two threads, wall time can fall while CPU time rises);
- batch size 1..64 with the shipped settings (1 thread, all optimisations);
- quantised variants made here with ``onnxruntime.quantization``: int8 dynamic
  (weights int8, activations quantised on the fly), int8 static QDQ (per-channel
  weights, activations calibrated on windows of the validation fold 1), and float16
  (``onnxruntime.transformers.float16``, float32 inputs and outputs). Each variant's
  clip-level accuracy and macro-F1 on the held-out test fold 4 are measured with the
  same code as ``sound-monitor evaluate`` (full band), next to the float model's,
  plus how often its top label agrees with the float model's per window. A variant
  is only worth shipping if it is faster *and* loses no accuracy.

    python bench/options.py [--quick] [--model FILE]
"""

from __future__ import annotations

import _common  # noqa: F401  (first: it limits BLAS threads before numpy loads)
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from _common import REPO, figures_line, load_model, model_args
from monitor.model.runner import ModelRunner, activate

DATA = REPO.parent / "shared" / "datasets" / "homesounds"
LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def session(path: Path, threads: int = 1, level: str = "all") -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = LEVELS[level]
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def timed(sess: ort.InferenceSession, batch: np.ndarray, seconds: float) -> tuple[float, float]:
    """(wall ms, CPU ms) per window, running ``batch`` repeatedly for about ``seconds``."""
    name = sess.get_inputs()[0].name
    feed = {name: batch[:, None]}
    sess.run(None, feed)  # warm-up
    runs, w0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - w0 < seconds or runs < 3:
        sess.run(None, feed)
        runs += 1
    n = runs * len(batch)
    return (time.perf_counter() - w0) / n * 1e3, (time.process_time() - c0) / n * 1e3


class Windows:
    """Validation windows (calibration) for static quantisation."""

    def __init__(self, windows: np.ndarray, name: str) -> None:
        self.items = iter([{name: w[None, None]} for w in windows])

    def get_next(self):  # type: ignore[no-untyped-def]
        return next(self.items, None)


def fold_feats(runner: ModelRunner, fold: int, limit: int | None):  # type: ignore[no-untyped-def]
    """(clip features, window maker, label map) of one fold, from the shared feature cache."""
    from monitor.train import DEFAULT_CACHE
    from monitor.train.augment import WindowMaker
    from monitor.train.cache import FeatureCache
    from monitor.train.dataset import load_dataset
    from monitor.train.labelmap import label_map_from_arg
    from monitor.train.run import ROOM_TONE_SEED, ROOM_TONES

    label_map = label_map_from_arg(None)
    dataset = load_dataset(DATA, label_map)
    clips = [c for c in dataset.clips if c.fold == fold and c.label in runner.labels]
    if limit:
        clips = clips[:: max(1, len(clips) // limit)]
    cache = FeatureCache(DEFAULT_CACHE, runner.metadata.features)
    feats, _ = cache.load_all(clips, progress=False)
    p = runner.metadata.features
    maker = WindowMaker(p, cache.room_tones(ROOM_TONES, ROOM_TONE_SEED), [])
    return feats, maker, label_map


def variants(model: Path, runner: ModelRunner, folder: Path, quick: bool) -> dict[str, Path]:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from onnxruntime.transformers.float16 import convert_float_to_float16
    import onnx

    out = {"float32": model}
    pre = folder / "pre.onnx"
    quant_pre_process(str(model), str(pre))
    quantize_dynamic(str(pre), str(folder / "int8_dynamic.onnx"), weight_type=QuantType.QInt8)
    out["int8_dynamic"] = folder / "int8_dynamic.onnx"
    feats, maker, _ = fold_feats(runner, 1, 40 if quick else 120)  # calibration: validation fold, never the test fold
    calib = np.concatenate([maker.eval_windows(f, "full") for f in feats]).astype(np.float32)
    quantize_static(str(pre), str(folder / "int8_static.onnx"), Windows(calib, runner._input_name),
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    # uint8 activations: ORT's x86 int8 convolutions are built for them (signed ones ran 4x slower)
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)  # fmt: skip
    out["int8_static"] = folder / "int8_static.onnx"
    half = convert_float_to_float16(onnx.load(str(model)), keep_io_types=True)
    onnx.save(half, str(folder / "float16.onnx"))
    out["float16"] = folder / "float16.onnx"
    return out


def accuracy(path: Path, runner: ModelRunner, feats, maker, label_map, reference: np.ndarray | None):  # type: ignore[no-untyped-def]
    """(accuracy, macro-F1, top-1 agreement with ``reference`` clip scores, clip scores) on fold 4."""
    from monitor.evaluate.clips import evaluate_clips
    from monitor.train.run import N_SILENCE_EVAL

    sess = session(path)
    name = sess.get_inputs()[0].name
    silence = label_map.silence if label_map.silence in runner.labels else None
    scorer = lambda w: activate(sess.run(None, {name: w[:, None]})[0], runner.metadata.activation)  # noqa: E731
    report, scores, _ = evaluate_clips(scorer, maker, feats, runner.labels, runner.metadata.thresholds,
                                       "fold 4, full band", "full", silence, N_SILENCE_EVAL, seed=3)  # fmt: skip
    agree = float(np.mean(scores.argmax(1) == reference.argmax(1))) if reference is not None else 1.0
    return report.accuracy, report.macro_f1, agree, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_args(parser)
    args = parser.parse_args()
    runner = load_model(args.model)
    f = runner.metadata.features
    secs = 0.5 if args.quick else 2.0
    rng = np.random.default_rng(0)
    windows = (rng.standard_normal((64, f.n_mels, f.n_frames)) * 15 - 50).astype(np.float32)
    figures: dict[str, object] = {}

    print(f"{'opt level':>10} {'threads':>7} {'ms/win @1':>10} {'ms/win @32':>11} {'CPU ms/win @32':>15}")
    for level in LEVELS:
        for threads in (1, 2):
            s = session(args.model, threads, level)
            one, _ = timed(s, windows[:1], secs)
            batched, cpu = timed(s, windows[:32], secs)
            print(f"{level:>10} {threads:7} {one:10.2f} {batched:11.2f} {cpu:15.2f}")
            figures[f"ms_{level}_t{threads}_b1"] = f"{one:.2f}"
            figures[f"ms_{level}_t{threads}_b32"] = f"{batched:.2f}"
            figures[f"cpu_ms_{level}_t{threads}_b32"] = f"{cpu:.2f}"

    print(f"\n{'batch':>6} {'ms/window':>10}  (1 thread, all optimisations)")
    s = session(args.model)
    for batch in (1, 4, 8, 16, 32, 64):
        ms, _ = timed(s, windows[:batch], secs)
        print(f"{batch:6} {ms:10.2f}")
        figures[f"ms_batch{batch}"] = f"{ms:.2f}"

    if not DATA.is_dir():
        print(f"\n{DATA} not found: quantised variants need the held-out fold for their accuracy; skipped")
        print(figures_line(figures))
        return
    feats, maker, label_map = fold_feats(runner, 4, 60 if args.quick else None)
    print(f"\n{'variant':>13} {'KB':>6} {'ms/win @1':>10} {'ms/win @32':>11} {'accuracy':>9} {'macro-F1':>9} {'top-1 agrees':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        reference = None
        for name, path in variants(args.model, runner, Path(tmp), args.quick).items():
            s = session(path)
            one, _ = timed(s, windows[:1], secs)
            batched, _ = timed(s, windows[:32], secs)
            acc, f1, agree, scores = accuracy(path, runner, feats, maker, label_map, reference)
            reference = scores if reference is None else reference
            print(f"{name:>13} {path.stat().st_size / 1024:6.0f} {one:10.2f} {batched:11.2f} {acc:9.3f} {f1:9.3f} {agree:13.3f}")
            figures.update({f"{name}_ms_b1": f"{one:.2f}", f"{name}_ms_b32": f"{batched:.2f}",
                            f"{name}_accuracy": f"{acc:.3f}", f"{name}_macro_f1": f"{f1:.3f}",
                            f"{name}_agree": f"{agree:.3f}"})  # fmt: skip
    figures["fold4_clips"] = len(feats)
    print(figures_line(figures))


if __name__ == "__main__":
    main()
