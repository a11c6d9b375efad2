"""`sound-monitor train` end to end on a tiny data set: features, one epoch, ONNX export, report,
from scratch and fine-tuned from the pretrained checkpoint."""

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
CHECKPOINT = ROOT.parent / "shared" / "pretrained" / "mn04_as_mAP_432.pt"
torch = pytest.importorskip("torch")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def train_tiny(tmp: Path, *extra: str) -> tuple[Path, subprocess.CompletedProcess]:
    data = write_dataset(tmp / "data")
    label_map = write_label_map(tmp / "map.yaml")
    out = tmp / "models" / "tiny.onnx"
    result = run_cli("train", str(data), "--labels", str(label_map), "--out", str(out), "--cache", str(tmp / "cache"),
                     "--epochs", "1", "--batches-per-epoch", "2", "--batch-size", "8", "--seed", "3", *extra, cwd=tmp)
    return out, result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    # Two members, so the ensemble's export path is exercised end to end too.
    out, result = train_tiny(tmp, "--members", "0,3")
    return tmp, out, result


def test_training_writes_a_model_the_runtime_loads(trained):
    tmp, out, result = trained
    assert result.returncode == 0, result.stderr
    runner = ModelRunner(out)
    assert runner.labels == ("low", "high", "hiss", "silence")
    md = runner.metadata
    assert md.activation == "sigmoid"
    assert set(md.thresholds) == set(runner.labels) and all(0 < t < 1 for t in md.thresholds.values())
    # The front end travels in the file: the pretrained network's 32-kHz Kaldi log-mel.
    f = md.features
    assert (f.sample_rate, f.n_mels, f.n_frames, f.mel_scale, f.compression, f.preemphasis) == (32000, 128, 501, "kaldi", "log", 0.97)
    assert "seed 3" in md.info["training_data"] and md.info["git_commit"] and "from scratch" in md.info["description"]
    scores, embedding = runner.predict_with_embedding(np.full((3, 128, 501), -1.0, np.float32))
    assert scores.shape == (3, 4) and ((scores >= 0) & (scores <= 1)).all()
    assert embedding is not None and embedding.shape == (3, 384) and runner.embedding_size == 384
    assert "epoch 1/1" in result.stderr
    assert "validation macro-F1" in result.stdout and "ONNX Runtime vs PyTorch max difference" in result.stdout


def test_calibration_for_a_rules_file_writes_thresholds_and_says_which_persistence(trained):
    tmp, out, result = trained
    assert result.returncode == 0, result.stderr
    model = tmp / "calibrated.onnx"
    model.write_bytes(out.read_bytes())
    rules = tmp / "rules.yaml"
    rules.write_text("version: 1\nrules:\n  - {name: tone, sound: high, persistence: 2 of 3}\n")
    calibrated = run_cli("evaluate", str(tmp / "data"), "--labels", str(tmp / "map.yaml"), "--model", str(model),
                         "--folds", "1", "--cache", str(tmp / "cache"), "--calibrate", "2", "--rules", str(rules),
                         "--events-per-label", "2", "--report-dir", str(tmp / "calibration"), cwd=tmp)
    assert calibrated.returncode == 0, calibrated.stderr
    thresholds, compared = (tmp / "calibration" / "calibration.md").read_text().split("## Persistence")
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in thresholds.splitlines() if line.startswith("| ")}
    assert rows["high"] == "2 of 3" and rows["low"] == "1 of 1"
    # And the measurement to choose persistence from: every candidate, for every alert label.
    cells = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in compared.splitlines() if line.startswith("| ")}
    assert cells["label"][0].strip() == "1 of 1" and {"high", "low"} <= set(cells)
    assert all(len(row) == len(cells["label"]) for row in cells.values())
    floors = ModelRunner(out).metadata.thresholds  # training's thresholds are the clip-level floor
    assert all(t >= floors[label] for label, t in ModelRunner(model).metadata.thresholds.items())


@pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"pretrained checkpoint not found at {CHECKPOINT}")
def test_fine_tuning_from_the_pretrained_checkpoint_keeps_its_knowledge(tmp_path):
    out, result = train_tiny(tmp_path, "--init", str(CHECKPOINT))
    assert result.returncode == 0, result.stderr
    runner = ModelRunner(out)
    assert "fine-tuned from mn04_as_mAP_432.pt" in runner.metadata.info["description"]
    # Learnt sounds are classified from AudioSet's own embedding, which fine-tuning leaves as it was.
    from monitor.train.mobilenet import MobileNetV3, load_pretrained

    pretrained = MobileNetV3()
    load_pretrained(pretrained, CHECKPOINT)
    pretrained.eval()
    windows = np.random.default_rng(0).normal(-4.0, 2.0, (2, 128, 501)).astype(np.float32)
    with torch.no_grad():
        expected = pretrained.embed(torch.from_numpy(windows[:, None])).numpy()
    _, embedding = runner.predict_with_embedding(windows)
    assert np.abs(embedding - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
    # The PyTorch weights are kept beside the report, so the model can be exported again without training.
    assert (out.with_name("tiny-report") / "weights.pt").is_file()


@pytest.mark.parametrize("content, problem", [
    (None, "no such file"),
    (b"not a checkpoint at all", "not a PyTorch file"),
])
def test_a_bad_checkpoint_is_a_one_line_error(tmp_path, content, problem):
    ckpt = tmp_path / "bad.pt"
    if content is not None:
        ckpt.write_bytes(content)
    result = run_cli("train", str(tmp_path), "--init", str(ckpt), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and problem in result.stderr


def test_training_writes_a_test_report_with_confusion_matrices(trained):
    tmp, out, _ = trained
    report_dir = out.with_name("tiny-report")
    summary = json.loads((report_dir / "training.json").read_text())
    # The same budget per network as for one: members trained from scratch share no frozen trunk.
    assert summary["macs_per_window"] <= 80_000_000 * len(summary["config"]["members"])
    assert summary["onnx_bytes"] <= 10_000_000
    assert summary["folds"] == {"validation": [1], "test": [4]}
    text = (report_dir / "test-report.md").read_text()
    assert "macro-F1" in text and "| low |" in text
    assert (report_dir / "test-report-1.png").stat().st_size > 1000
    card = (report_dir / "MODEL_CARD.md").read_text()
    assert "| silence |" in card and "synthetic room tone" in card and "--seed 3" in card
    assert "Members (head segment length" in card and ": 0, 3." in card


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


@pytest.mark.parametrize("option", ["--balance", "--peak-anywhere", "--warp"])
def test_a_share_outside_0_to_1_is_a_one_line_error(tmp_path, option):
    result = run_cli("train", str(tmp_path), option, "1.5", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"sound-monitor: error: {option} must be between 0 and 1"


@pytest.mark.parametrize("members", ["", "0,x", "17", "0,1,2,3,4", "-1"])
def test_members_that_are_not_1_to_4_segment_lengths_are_a_one_line_error(tmp_path, members):
    result = run_cli("train", str(tmp_path), "--members", members, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"sound-monitor: error: --members {members!r}: give 1 to 4 comma-separated segment lengths between 0 and 16 "
        "(trunk time steps of 0.32 s; a 5-s window has 16), e.g. 0,3")


def test_a_frozen_block_count_beyond_the_trunk_is_a_one_line_error(tmp_path):
    result = run_cli("train", str(tmp_path), "--frozen-blocks", "18", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "sound-monitor: error: --frozen-blocks must be between 0 and 17 (the trunk has modules features.0-16)")


def test_training_is_deterministic_for_a_seed(tmp_path):
    from monitor.train.augment import WindowMaker
    from monitor.train.cache import FeatureCache
    from monitor.train.dataset import load_dataset
    from monitor.train.labelmap import load_label_map
    from monitor.train.config import TrainConfig
    from monitor.train.trainer import Trainer
    from monitor.features.params import FeatureParams

    data = write_dataset(tmp_path / "data", per_label=3)
    lm = load_label_map(write_label_map(tmp_path / "map.yaml"))
    dataset = load_dataset(data, lm)
    cache = FeatureCache(tmp_path / "cache", FeatureParams())
    feats, _ = cache.load_all(dataset.clips, progress=False)

    def first_batch_and_weights():
        maker = WindowMaker(FeatureParams(), cache.room_tones(10, 1), [f for f in feats if f.clip.label == "hiss"])
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


def test_a_distillation_weight_out_of_range_is_a_one_line_error(tmp_path):
    result = run_cli("train", str(tmp_path), "--distill", "-1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "sound-monitor: error: --distill must be between 0 and 100"
