"""A model computes its embedding only when asked: rewriting a file changes none of its numbers, the
runtime does not ask for the embedding when no learnt sound needs it, and older files still work."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from tiny_model import make_tiny_model, tiny_metadata

from monitor.model.runner import EMBEDDING_SWITCH, ModelRunner
from monitor.sounds.model import SoundModel
from monitor.train.ondemand import main, rewrite_file

SHAPE = tiny_metadata().features.input_shape[1:]


def windows(n: int = 4) -> np.ndarray:
    return np.random.default_rng(3).normal(-4.0, 2.0, (n, *SHAPE)).astype(np.float32)


class RecordingSession:
    """Wraps an ONNX Runtime session and keeps what each run was asked for."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session
        self.runs: list[tuple[list[str], dict[str, np.ndarray]]] = []

    def run(self, outputs: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.runs.append((list(outputs), dict(feed)))
        return self._session.run(outputs, feed)


@pytest.fixture
def rewritten(tmp_path):
    original = make_tiny_model(tmp_path / "original.onnx", embedding=True)
    assert rewrite_file(original, tmp_path / "ondemand.onnx")
    return original, tmp_path / "ondemand.onnx"


def test_the_rewritten_model_computes_exactly_the_same_scores_and_embedding(rewritten):
    original, ondemand = rewritten
    before, after = ModelRunner(original), ModelRunner(ondemand)
    for old, new in zip(before.predict_with_embedding(windows()), after.predict_with_embedding(windows())):
        assert np.array_equal(old, new)
    assert np.array_equal(before.predict(windows()), after.predict(windows()))
    assert after.metadata == before.metadata and after.embedding_size == before.embedding_size == 256


def test_unasked_the_graph_skips_the_embedding_branch(rewritten):
    _, ondemand = rewritten
    session = ort.InferenceSession(str(ondemand), providers=["CPUExecutionProvider"])
    batch = windows()[:, None]
    scores, embedding = session.run(None, {"logmel": batch, EMBEDDING_SWITCH: np.array(False)})
    assert scores.shape == (4, 3) and embedding.shape == (0, 256)
    _, embedding = session.run(None, {"logmel": batch})  # a caller that feeds only the window gets it
    assert embedding.shape == (4, 256)


def test_scores_alone_are_asked_for_without_the_embedding(rewritten):
    _, ondemand = rewritten
    runner = ModelRunner(ondemand)
    recording = RecordingSession(runner._session)
    runner._session = recording  # type: ignore[assignment]
    SoundModel(runner).predict(windows())  # no learnt sounds: nothing needs the embedding
    ((outputs, feed),) = recording.runs
    assert len(outputs) == 1 and feed[EMBEDDING_SWITCH].item() is False
    runner.predict_with_embedding(windows())
    outputs, feed = recording.runs[-1]
    assert outputs[-1] == "embedding" and EMBEDDING_SWITCH not in feed


def test_a_model_without_the_switch_still_gives_scores_and_embedding(tmp_path):
    runner = ModelRunner(make_tiny_model(tmp_path / "old.onnx", embedding=True))
    scores, embedding = runner.predict_with_embedding(windows())
    assert np.array_equal(runner.predict(windows()), scores) and embedding.shape == (4, 256)


def test_the_command_rewrites_in_place_once_and_then_has_nothing_to_change(tmp_path, capsys):
    model = make_tiny_model(tmp_path / "m.onnx", embedding=True)
    expected = ModelRunner(model).predict_with_embedding(windows())
    assert main([str(model)]) == 0
    assert "embedding computed on request" in capsys.readouterr().out
    for old, new in zip(expected, ModelRunner(model).predict_with_embedding(windows())):
        assert np.array_equal(old, new)
    assert main([str(model)]) == 0
    assert "nothing to change" in capsys.readouterr().out


def test_a_model_without_an_embedding_is_refused_in_one_line(tmp_path, capsys):
    model = make_tiny_model(tmp_path / "m.onnx")
    assert main([str(model), "--out", str(tmp_path / "out.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {model}: the model has no 'embedding' output"
    assert not (tmp_path / "out.onnx").exists()


def test_a_model_file_that_is_not_there_is_refused_in_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing.onnx")]) == 1
    assert capsys.readouterr().err.strip() == f"error: model file not found: {tmp_path / 'missing.onnx'}"


def test_an_output_path_that_cannot_be_written_is_refused_in_one_line(tmp_path, capsys):
    model = make_tiny_model(tmp_path / "m.onnx", embedding=True)
    (tmp_path / "a_file").write_text("not a folder")
    assert main([str(model), "--out", str(tmp_path / "a_file" / "out.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot write {tmp_path / 'a_file' / 'out.onnx'}: ") and "--out" in err
    assert "\n" not in err
