"""Model card draft: what a training run produced, from its summary and label map.

Takes the run's summary dict (see :mod:`monitor.train.run`), the label map and the
clip-level report markdown; gives markdown with the label set (and which source
labels went where), the exact command, model size and cost, thresholds and the
held-out results. Data sources and licences are the data set's own business: the
card points at the data folder's README for them.
"""

from __future__ import annotations

from monitor.train.labelmap import LabelMap


def model_card(summary: dict, label_map: LabelMap, data_name: str, results_md: str) -> str:
    mapping = label_map.describe()
    counts = summary["train_clips_per_label"]
    thresholds = summary["thresholds"]
    lines = [
        f"# Model card: {summary['model']}",
        "",
        "## Labels",
        "",
        "| model label | training clips | threshold | source labels merged into it |",
        "|---|---:|---:|---|",
    ]
    for label in summary["labels"]:
        if label == label_map.silence:
            sources = "synthetic room tone / near-silence (generated, no recordings)"
        else:
            sources = ", ".join(sorted(mapping.get(label, []))) or label
        lines.append(f"| {label} | {counts.get(label, 0)} | {thresholds.get(label, 0.5):.3f} | {sources} |")
    cfg = summary["config"]
    lines += [
        "",
        "## Training",
        "",
        f"- Data: `{data_name}`; validation folds {summary['folds']['validation']} (best epoch and thresholds), "
        f"test folds {summary['folds']['test']} (results below, used for nothing else).",
        f"- Command: `{summary['command']}`",
        f"- {cfg['epochs']} epochs x {cfg['batches_per_epoch']} batches x {cfg['batch_size']} windows, seed {cfg['seed']}, "
        f"{cfg['threads']} threads; took {summary['training_minutes']:.1f} min including feature extraction and evaluation.",
        f"- Best validation macro-F1 {max(h['val_macro_f1'] for h in summary['history']):.3f}.",
        "",
        "## Size and cost",
        "",
        f"- {summary['parameters']:,} parameters, {summary['macs_per_window'] / 1e6:.1f} M multiply-adds per 5-s window, "
        f"{summary['onnx_bytes'] / 1e6:.2f} MB ONNX.",
        f"- {summary['ms_per_window_one_thread']:.2f} ms per window with ONNX Runtime on one thread (this machine).",
        f"- ONNX Runtime vs PyTorch: max score difference {summary['ort_vs_torch_max_diff']:.1e} on real windows.",
        "",
        "## Held-out results (clip level)",
        "",
        results_md,
    ]
    return "\n".join(lines) + "\n"
