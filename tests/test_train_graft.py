"""A model trained before learnt sounds read AudioSet's embedding can be given it: its label scores stay
exactly as they were, its embedding becomes the pretrained network's, and it is a new model (new id,
no stale background bank). A model whose frozen part is not the checkpoint's is refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.errors import UserError
from monitor.model.metadata import ModelMetadata
from monitor.model.runner import ModelRunner

torch = pytest.importorskip("torch")

from monitor.features.params import KALDI_LOG_32K  # noqa: E402
from monitor.train.export import export_onnx  # noqa: E402
from monitor.train.graft import graft_audioset_embedding, main  # noqa: E402
from monitor.train.mobilenet import MobileNetV3, load_pretrained  # noqa: E402
from monitor.train.model import Served, SoundTagger  # noqa: E402

CHECKPOINT = Path(__file__).resolve().parents[1].parent / "shared" / "pretrained" / "mn04_as_mAP_432.pt"
pytestmark = pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"pretrained checkpoint not found at {CHECKPOINT}")
LABELS = ("glass", "speech", "background")


def fine_tuned_model(path: Path, tuned_from: int) -> Path:
    """An old-style export: the tagger's own embedding, trunk modules from ``tuned_from`` on changed."""
    torch.manual_seed(0)
    tagger = SoundTagger(len(LABELS), CHECKPOINT, frozen_blocks=7)
    with torch.no_grad():
        for p in tagger.net.features[tuned_from:].parameters():
            p.mul_(1.0 + 0.2 * torch.randn_like(p))  # what fine-tuning does to the tuned blocks, roughly
    metadata = ModelMetadata(labels=LABELS, features=KALDI_LOG_32K, activation="sigmoid",
                             thresholds={label: 0.5 for label in LABELS}, info={"name": "old"})
    export_onnx(Served(tagger, teacher=None), metadata, path)
    return path


def windows(n: int = 3) -> np.ndarray:
    return np.random.default_rng(1).normal(-4.0, 2.0, (n, 128, 501)).astype(np.float32)


def test_the_grafted_model_keeps_its_scores_and_gets_the_pretrained_embedding(tmp_path):
    old = fine_tuned_model(tmp_path / "old.onnx", tuned_from=7)
    graft_audioset_embedding(old, CHECKPOINT, tmp_path / "new.onnx", frozen_blocks=7)
    before, after = ModelRunner(old), ModelRunner(tmp_path / "new.onnx")
    old_scores, old_embedding = before.predict_with_embedding(windows())
    new_scores, new_embedding = after.predict_with_embedding(windows())
    assert np.array_equal(new_scores, old_scores)
    pretrained = MobileNetV3()
    load_pretrained(pretrained, CHECKPOINT)
    pretrained.eval()
    with torch.no_grad():
        expected = pretrained.embed(torch.from_numpy(windows()[:, None])).numpy()
    scale = np.abs(expected).max()
    assert np.abs(new_embedding - expected).max() <= 1e-4 * scale < np.abs(old_embedding - expected).max()
    assert after.metadata.model_id != before.metadata.model_id  # sounds learnt on the old embedding are refused
    assert after.metadata.labels == LABELS and after.metadata.thresholds == before.metadata.thresholds


def test_a_model_whose_frozen_part_was_tuned_is_refused_naming_the_option(tmp_path):
    old = fine_tuned_model(tmp_path / "old.onnx", tuned_from=5)
    with pytest.raises(UserError, match="features.0-6 are not the checkpoint's.*--frozen-blocks"):
        graft_audioset_embedding(old, CHECKPOINT, tmp_path / "new.onnx", frozen_blocks=7)
    assert not (tmp_path / "new.onnx").exists()


def test_the_command_reports_a_user_mistake_in_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing.onnx"), "--init", str(CHECKPOINT), "--out", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model file not found") and "\n" not in err


def test_a_model_without_the_named_trunk_module_is_refused_in_one_line(tmp_path, capsys):
    from tiny_model import make_tiny_model

    other = make_tiny_model(tmp_path / "other.onnx", embedding=True)  # a valid model file, not our network
    assert main([str(other), "--init", str(CHECKPOINT), "--out", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert "no trunk module features.7 in the graph" in err and "\n" not in err
    assert not (tmp_path / "x.onnx").exists()


def test_a_model_exported_with_the_embedding_on_request_is_refused_as_already_grafted(tmp_path):
    import onnx

    from monitor.train.model import Teacher
    from monitor.train.ondemand import has_switch

    tagger = SoundTagger(len(LABELS), CHECKPOINT, frozen_blocks=7)
    metadata = ModelMetadata(labels=LABELS, features=KALDI_LOG_32K, activation="sigmoid",
                             thresholds={label: 0.5 for label in LABELS}, info={"name": "new"})
    new = tmp_path / "new.onnx"
    export_onnx(Served(tagger, Teacher(tagger)), metadata, new)  # as training exports it
    assert has_switch(onnx.load(str(new)).graph)  # what every export has now
    with pytest.raises(UserError, match="already computes AudioSet's embedding"):
        graft_audioset_embedding(new, CHECKPOINT, tmp_path / "x.onnx", frozen_blocks=7)
