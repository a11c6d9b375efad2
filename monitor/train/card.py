"""Model card draft: what a training run produced, from its summary and label map.

Takes the run's summary dict (see :mod:`monitor.train.run`), the label map and the
clip-level report markdown; gives markdown with the label set (and which source
labels went where), the exact command, model size and cost, thresholds and the
held-out results. Data sources and licences are the data set's own business: the
card points at the data folder's README for them.
"""

from __future__ import annotations

from monitor.train.labelmap import LabelMap

PRETRAINED_NOTICE = """## Starting point and its licence

Fine-tuned from **EfficientAT mn04_as** (`mn04_as_mAP_432.pt`, release `v0.0.1` of
github.com/fschmid56/EfficientAT): a MobileNetV3 (width 0.4) trained on AudioSet by knowledge
distillation from transformer ensembles (AudioSet mAP 0.432). Paper: F. Schmid, K. Koutini,
G. Widmer, "Efficient Large-Scale Audio Tagging via Transformer-to-CNN Knowledge Distillation",
ICASSP 2023. The network code is our own (`monitor/train/mobilenet.py`); the weights derive from
that checkpoint, whose licence notice follows:

> MIT License. Copyright (c) 2022 Florian Schmid.
> Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
> associated documentation files (the "Software"), to deal in the Software without restriction,
> including without limitation the rights to use, copy, modify, merge, publish, distribute,
> sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
> furnished to do so, subject to the following conditions: The above copyright notice and this
> permission notice shall be included in all copies or substantial portions of the Software.
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
> NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
> NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
> DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
> OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

AudioSet's class list (used for the distillation targets) is CC BY 4.0, Google.
"""


def model_card(summary: dict, label_map: LabelMap, data_name: str, results_md: str) -> str:
    mapping = label_map.describe()
    counts = summary["train_clips_per_label"]
    thresholds = summary["thresholds"]
    lines = [
        f"# Model card: {summary['model']}",
        "",
        *([PRETRAINED_NOTICE] if summary.get("init") else []),
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
        f"- Members (head segment length in trunk steps of 0.32 s, 0 = the window's mean; probabilities averaged): "
        f"{', '.join(map(str, cfg['members']))}.",
        f"- Best validation macro-F1 of a member {max(h['val_macro_f1'] for h in summary['history']):.3f}.",
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
