"""One training run end to end: data -> features -> training -> thresholds -> ONNX -> test report.

Takes :class:`TrainOptions`; writes the ONNX model and, in ``report_dir``, the
clip-level report on the held-out test folds (markdown + confusion-matrix PNGs),
the training history and a JSON summary. Folds: training = all folds except the
validation and test folds; validation picks the best epoch and the per-label
thresholds; test is used for nothing but the report.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from monitor.errors import UserError
from monitor.evaluate.clip_metrics import collapse
from monitor.evaluate.clips import build_eval_set, clip_thresholds, evaluate_clips, write_reports
from monitor.evaluate.report import clip_report
from monitor.features.params import KALDI_LOG_32K, FeatureParams
from monitor.model.metadata import ModelMetadata
from monitor.model.runner import ModelRunner
from monitor.train.augment import N_SILENCE_EVAL, ROOM_TONE_SEED, ROOM_TONES, WindowMaker
from monitor.train.config import AugmentConfig, TrainConfig
from monitor.train.cache import FeatureCache
from monitor.train.card import model_card
from monitor.train.dataset import Skipped, load_dataset, require_usable, skip_report
from monitor.train.labelmap import LabelMap
from monitor.train.model import Served, count_macs
from monitor.train.trainer import Trainer, predict_torch


@dataclass
class TrainOptions:
    data: Path
    label_map: LabelMap
    out: Path
    report_dir: Path
    cache_dir: Path
    val_folds: set[int] = field(default_factory=lambda: {1})
    test_folds: set[int] = field(default_factory=lambda: {4})
    config: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    features: FeatureParams = KALDI_LOG_32K  # the front end the pretrained trunk was trained on
    init: Path | None = None  # pretrained checkpoint (mn04_as_mAP_432.pt); None trains from scratch
    name: str = "sound-monitor"
    command: str = ""


def git_commit(where: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def inference_ms(runner: ModelRunner, window: np.ndarray, repeats: int = 50) -> float:
    """Median milliseconds for one window through ONNX Runtime (as the live pipeline runs it)."""
    runner.predict(window)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        runner.predict(window)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def run_training(opts: TrainOptions, log=print) -> dict:
    started = time.monotonic()
    commit = git_commit(Path(__file__).resolve().parent)  # the code this run starts with
    dataset = load_dataset(opts.data, opts.label_map)
    cache = FeatureCache(opts.cache_dir, opts.features)
    feats, corrupt = cache.load_all(dataset.clips)
    dataset.skipped += corrupt
    bad = {s.what for s in corrupt}
    dataset.clips = [c for c in dataset.clips if str(c.path) not in bad]
    overlap = opts.val_folds & opts.test_folds
    if overlap:
        raise UserError(f"validation and test folds overlap ({sorted(overlap)}); they must be different folds")
    held_out = opts.val_folds | opts.test_folds
    train = [f for f in feats if f.clip.fold not in held_out]
    trained_labels = {f.clip.label for f in train}
    for label in dataset.labels:
        if label != dataset.silence and label not in trained_labels and any(c.label == label for c in dataset.clips):
            dataset.skipped.append(Skipped(f"label '{label}'", "empty label: no clips in the training folds, left out of the model"))
    labels = tuple(label for label in dataset.labels if label in trained_labels or label == dataset.silence)
    dataset.labels = labels
    dataset.clips = [c for c in dataset.clips if c.label in labels]
    log(skip_report(dataset.skipped))
    require_usable(dataset)
    feats = [f for f in feats if f.clip.label in labels]
    train = [f for f in train if f.clip.label in labels]
    val = [f for f in feats if f.clip.fold in opts.val_folds]
    test = [f for f in feats if f.clip.fold in opts.test_folds]
    if not val:
        raise UserError(f"no clips in the validation folds {sorted(opts.val_folds)}; choose another --val-fold")
    log(f"{len(labels)} labels; clips: {len(train)} training, {len(val)} validation, {len(test)} test")

    backgrounds = [f for f in train if f.clip.label in opts.label_map.background]
    maker = WindowMaker(opts.features, cache.room_tones(ROOM_TONES, ROOM_TONE_SEED), backgrounds, opts.augment)
    val_set = build_eval_set(maker, val, labels, "full", dataset.silence, N_SILENCE_EVAL, seed=1)
    trainer = Trainer(opts.config, labels, dataset.silence, train, maker, opts.init)
    history = trainer.fit(val_set, log)
    model = trainer.model

    # Thresholds from validation clips, full band and band-limited together.
    val_band = build_eval_set(maker, val, labels, "band", dataset.silence, N_SILENCE_EVAL, seed=2)
    thresholds = clip_thresholds(lambda w: predict_torch(model, w), val_set, val_band, labels)

    from monitor.train.export import export_onnx, verify_export

    counts = {label: sum(1 for f in train if f.clip.label == label) for label in labels}
    metadata = ModelMetadata(
        labels=labels,
        features=opts.features,
        activation="sigmoid",
        thresholds=thresholds,
        info={
            "name": opts.name,
            "description": (
                "MobileNetV3 (EfficientAT mn04 layout) on 5-s log-mel windows for home-security sound events"
                + (f", fine-tuned from {opts.init.name}" if opts.init else ", trained from scratch")
            ),
            "training_data": (
                f"{opts.data.name}: {len(train)} clips from folds "
                f"{sorted({f.clip.fold for f in train})} (validation {sorted(opts.val_folds)}, "
                f"test {sorted(opts.test_folds)}); per label {json.dumps(counts)}; seed {opts.config.seed}"
            ),
            "git_commit": commit,
        },
    )
    served = Served(model, trainer.teacher)
    export_onnx(served, metadata, opts.out)
    diff = verify_export(served, opts.out, val_set.windows[:64])
    log(f"exported {opts.out} ({opts.out.stat().st_size / 1e6:.2f} MB); ONNX Runtime vs PyTorch max difference {diff:.1e}")
    from monitor.sounds.bank import write_background_bank

    try:
        count = write_background_bank(opts.out, opts.data, label_map=opts.label_map, test_folds=frozenset(opts.test_folds))
        log(f"background bank for learnt sounds: {count} embeddings stored in {opts.out}")
    except UserError as exc:  # the model is still good; learnt sounds then rely on the user's --background
        log(f"no background bank for learnt sounds: {exc}")
    train_minutes = (time.monotonic() - started) / 60

    runner = ModelRunner(opts.out, threads=1)
    ms_per_window = inference_ms(runner, val_set.windows[:1])
    log(f"inference: {ms_per_window:.2f} ms per window on one thread")
    reports = []
    if test:
        for variant, title in (("full", "held-out test folds, full band"),
                               ("band", "held-out test folds, band-limited (8/11.025/16 kHz recordings)")):
            report, scores, y = evaluate_clips(runner.predict, maker, test, labels, thresholds,
                                               f"{title}, folds {sorted(opts.test_folds)}", variant,
                                               dataset.silence, N_SILENCE_EVAL, seed=3)
            reports.append(report)
            log(f"{title}: accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}")
            quiet = set(opts.label_map.background) | {dataset.silence or ""}
            c_scores, c_y, c_labels = collapse(scores, y, labels, quiet)
            if c_labels != labels:
                merged = clip_report(f"{report.title}; background labels and silence merged", c_scores, c_y, c_labels, thresholds)
                reports.append(merged)
                log(f"{merged.title}: accuracy {merged.accuracy:.3f}, macro-F1 {merged.macro_f1:.3f}")
    summary = {
        "model": str(opts.out),
        "labels": list(labels),
        "thresholds": thresholds,
        "train_clips_per_label": counts,
        "folds": {"validation": sorted(opts.val_folds), "test": sorted(opts.test_folds)},
        "config": asdict(opts.config),
        "augment": asdict(opts.augment),
        "macs_per_window": count_macs(served, opts.features.input_shape),
        "parameters": int(sum(p.numel() for p in served.parameters())),
        "onnx_bytes": opts.out.stat().st_size,
        "ort_vs_torch_max_diff": diff,
        "ms_per_window_one_thread": round(ms_per_window, 3),
        "training_minutes": round(train_minutes, 2),
        "history": history,
        "skipped": [asdict(s) for s in dataset.skipped],
        "command": opts.command,
        "init": str(opts.init) if opts.init else None,
        "test": [{"title": r.title, "accuracy": r.accuracy, "macro_f1": r.macro_f1,
                  "recall_at_threshold": {c.label: c.recall for c in r.at_threshold}} for r in reports],
    }
    opts.report_dir.mkdir(parents=True, exist_ok=True)
    # The PyTorch weights, so the model can be exported again (e.g. with other outputs) without retraining.
    torch.save(served.state_dict(), opts.report_dir / "weights.pt")
    (opts.report_dir / "training.json").write_text(json.dumps(summary, indent=2, default=str))
    results_md = "(no test folds)"
    if reports:
        path = write_reports(reports, opts.report_dir, "test-report", f"# Clip-level results: {opts.name}\n")
        results_md = path.read_text()
    (opts.report_dir / "MODEL_CARD.md").write_text(model_card(summary, opts.label_map, opts.data.name, results_md))
    log(f"report in {opts.report_dir}; total {(time.monotonic() - started) / 60:.1f} min")
    return summary
