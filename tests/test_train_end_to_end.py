"""`sound-monitor train` end to end on a tiny data set: features, one epoch, ONNX export, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from made_clips import write_dataset, write_label_map
from monitor.model.runner import ModelRunner

ROOT = Path(__file__).resolve().parents[1]
torch = pytest.importorskip("torch")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    data = write_dataset(tmp / "data")
    label_map = write_label_map(tmp / "map.yaml")
    out = tmp / "models" / "tiny.onnx"
    result = run_cli("train", str(data), "--labels", str(label_map), "--out", str(out), "--cache", str(tmp / "cache"),
                     "--epochs", "1", "--batches-per-epoch", "2", "--batch-size", "8", "--seed", "3", cwd=tmp)
    return tmp, out, result


def test_training_writes_a_model_the_runtime_loads(trained):
    tmp, out, result = trained
    assert result.returncode == 0, result.stderr
    runner = ModelRunner(out)
    assert runner.labels == ("low", "high", "hiss", "silence")
    md = runner.metadata
    assert md.activation == "softmax"
    assert set(md.thresholds) == set(runner.labels) and all(0 < t < 1 for t in md.thresholds.values())
    assert md.features.n_mels == 128 and md.features.n_frames == 216
    assert "seed 3" in md.info["training_data"] and md.info["git_commit"]
    scores = runner.predict(np.full((3, 128, 216), -60.0, np.float32))
    assert scores.shape == (3, 4) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert "epoch 1/1" in result.stderr
    assert "validation macro-F1" in result.stdout and "ONNX Runtime vs PyTorch max difference" in result.stdout


def test_training_writes_a_test_report_with_confusion_matrices(trained):
    tmp, out, _ = trained
    report_dir = out.with_name("tiny-report")
    summary = json.loads((report_dir / "training.json").read_text())
    assert summary["macs_per_window"] <= 30_000_000
    assert summary["onnx_bytes"] <= 2_000_000
    assert summary["folds"] == {"validation": [1], "test": [4]}
    text = (report_dir / "test-report.md").read_text()
    assert "macro-F1" in text and "| low |" in text
    assert (report_dir / "test-report-1.png").stat().st_size > 1000
    card = (report_dir / "MODEL_CARD.md").read_text()
    assert "| silence |" in card and "synthetic room tone" in card and "--seed 3" in card


def test_nothing_usable_is_a_one_line_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.csv").write_text("path,label,fold\nmissing.wav,low,1\n")
    result = run_cli("train", str(data), "--labels", "identity", "--out", str(tmp_path / "m.onnx"),
                     "--cache", str(tmp_path / "cache"), cwd=tmp_path)
    assert result.returncode == 2
    assert "no usable training data" in result.stderr and "missing file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("option", ["--balance", "--peak-anywhere"])
def test_a_share_outside_0_to_1_is_a_one_line_error(tmp_path, option):
    result = run_cli("train", str(tmp_path), option, "1.5", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"sound-monitor: error: {option} must be between 0 and 1"


def test_training_is_deterministic_for_a_seed(tmp_path):
    from monitor.train.augment import WindowMaker
    from monitor.train.cache import FeatureCache
    from monitor.train.dataset import load_dataset
    from monitor.train.labelmap import load_label_map
    from monitor.train.trainer import TrainConfig, Trainer
    from monitor.features.params import FeatureParams

    data = write_dataset(tmp_path / "data", per_label=3)
    lm = load_label_map(write_label_map(tmp_path / "map.yaml"))
    dataset = load_dataset(data, lm)
    cache = FeatureCache(tmp_path / "cache", FeatureParams())
    feats, _ = cache.load_all(dataset.clips, progress=False)

    def first_batch_and_weights():
        maker = WindowMaker(216, 80.0, cache.room_tones(10, 1), [f for f in feats if f.clip.label == "hiss"])
        trainer = Trainer(TrainConfig(batch_size=4, seed=5), dataset.labels, "silence", feats, maker)
        x, y = trainer.batch()
        return x.numpy(), y.numpy(), next(trainer.model.parameters()).detach().numpy().copy()

    a, b = first_batch_and_weights(), first_batch_and_weights()
    for left, right in zip(a, b):
        assert np.array_equal(left, right)


BLOCK_TRAINING_PACKAGES = """
import builtins, sys
real = builtins.__import__
def guard(name, *args, **kwargs):
    if name.split(".")[0] in ("torch", "onnx"):
        raise ImportError(f"No module named {name!r}", name=name.split(".")[0])
    return real(name, *args, **kwargs)
builtins.__import__ = guard
from monitor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_pytorch_train_says_how_to_install_and_evaluate_still_works(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    data = write_dataset(tmp_path / "data", per_label=5)
    train = subprocess.run([sys.executable, "-c", BLOCK_TRAINING_PACKAGES, "train", str(data)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
    assert train.returncode == 2
    assert train.stderr.strip().endswith("pip install -e .[train]") and "Traceback" not in train.stderr
    from tiny_model import make_tiny_model

    model = make_tiny_model(tmp_path / "tiny.onnx")
    evaluate = subprocess.run([sys.executable, "-c", BLOCK_TRAINING_PACKAGES, "evaluate", str(data), "--model", str(model),
                               "--labels", "identity", "--folds", "1", "--cache", str(tmp_path / "cache"),
                               "--report-dir", str(tmp_path / "eval")], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    assert evaluate.returncode == 0, evaluate.stderr
    assert (tmp_path / "eval" / "report.md").is_file()
