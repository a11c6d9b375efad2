"""Model files describe themselves; anything missing or inconsistent is refused by name."""

import warnings

import numpy as np
import onnx
import pytest

from monitor.errors import ModelError
from monitor.features.logmel import logmel
from monitor.model.metadata import ModelMetadata
from monitor.model.runner import ModelRunner, activate
from signals import tone
from tiny_model import make_tiny_model, tiny_metadata


def test_the_runtime_configures_itself_from_the_metadata(tiny_model):
    runner = ModelRunner(tiny_model)
    assert runner.labels == ("low", "mid", "high")
    assert runner.metadata.features.n_mels == 128 and runner.metadata.features.n_frames == 216
    assert runner.metadata.thresholds == {"low": 0.5}
    assert runner.metadata.name == "tiny-test-model"


def test_batched_scores_are_probabilities_per_window(tiny_model):
    runner = ModelRunner(tiny_model)
    params = runner.metadata.features
    batch = np.stack([logmel(tone(hz, 5.0, params.sample_rate), params) for hz in (150, 1500, 8000)])
    scores = runner.predict(batch)
    assert scores.shape == (3, 3)
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert [runner.labels[i] for i in scores.argmax(axis=1)] == ["low", "mid", "high"]


def test_sigmoid_scores_saturate_quietly_for_extreme_logits():
    raw = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would land in the daemon's journal
        scores = activate(raw, "sigmoid")
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, [[0.0, 9.4e-14, 0.5, 1.0, 1.0]], atol=1e-6)


def test_metadata_round_trips_through_props():
    meta = tiny_metadata()
    assert ModelMetadata.from_props(meta.to_props(), "x") == meta


def test_a_model_without_metadata_is_refused(tmp_path):
    path = make_tiny_model(tmp_path / "bare.onnx", props={})
    with pytest.raises(ModelError, match="not a sound-monitor model"):
        ModelRunner(path)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("labels", "not json", "'labels' has unreadable value"),
        ("labels", "[]", "non-empty JSON list"),
        ("sample_rate", "fast", "'sample_rate' has unreadable value"),
        ("activation", "relu", "'activation' is 'relu'"),
        ("thresholds", '{"nope": 0.5}', "unknown labels: nope"),
        ("thresholds", '{"low": 7}', "numbers in \\[0, 1\\]"),
        # A front end the runtime does not implement is refused by the field that declares it.
        ("window", "hamming", "window 'hamming' is not implemented"),
        ("mel_scale", "htk", "mel_scale 'htk' is not implemented"),
        ("compression", "pcen", "compression 'pcen' is not implemented"),
        ("pad_mode", "edge", "pad_mode 'edge' is not implemented"),
        ("power", "3.0", "power 3.0 is not implemented"),
        ("center", "false", "center false is not implemented"),
        ("center", "maybe", "'center' has unreadable value"),
        # Numbers that are not numbers never reach the extractor.
        ("top_db", "nan", "'top_db' is 'nan', not a finite number"),
        ("preemphasis", "inf", "'preemphasis' is 'inf', not a finite number"),
    ],
)
def test_bad_metadata_values_are_named(tmp_path, key, value, message):
    props = tiny_metadata().to_props() | {key: value}
    with pytest.raises(ModelError, match=message):
        ModelRunner(make_tiny_model(tmp_path / "bad.onnx", props=props))


def test_a_model_declaring_the_pretrained_front_end_round_trips():
    from monitor.features.params import KALDI_LOG_32K

    meta = ModelMetadata(("a", "b"), KALDI_LOG_32K, "sigmoid")
    assert ModelMetadata.from_props(meta.to_props(), "x").features == KALDI_LOG_32K


def test_a_model_from_before_the_front_end_keys_gets_the_librosa_front_end():
    from monitor.features.params import LIBROSA_DB

    props = tiny_metadata().to_props()
    for key in ("win_length", "window", "preemphasis", "center", "pad_mode", "power", "mel_scale", "mel_norm",
                "compression", "amin", "log_eps", "log_offset", "log_scale"):
        del props[key]
    assert ModelMetadata.from_props(props, "old.onnx").features == LIBROSA_DB


def test_a_missing_key_is_named(tmp_path):
    props = tiny_metadata().to_props()
    del props["n_fft"]
    with pytest.raises(ModelError, match="missing metadata key 'n_fft'"):
        ModelRunner(make_tiny_model(tmp_path / "bad.onnx", props=props))


def test_metadata_inconsistent_with_the_input_shape_is_refused(tmp_path):
    path = make_tiny_model(tmp_path / "m.onnx", input_shape=("batch", 1, 128, 431))  # a 10-s input
    with pytest.raises(ModelError, match="input shape .* does not match its metadata"):
        ModelRunner(path)


def test_label_count_must_match_the_output(tmp_path):
    props = tiny_metadata().to_props() | {"labels": '["a", "b"]', "thresholds": "{}"}
    with pytest.raises(ModelError, match="output shape .* does not match its 2 labels"):
        ModelRunner(make_tiny_model(tmp_path / "m.onnx", props=props))


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        ModelRunner(path)


def test_an_embedding_output_of_the_wrong_shape_is_refused_by_name(tmp_path):
    path = make_tiny_model(tmp_path / "m.onnx", embedding=True)
    model = onnx.load(str(path))
    (concat,) = [n for n in model.graph.node if n.output[0] == "embedding"]
    concat.output[0] = "flat_embedding"
    model.graph.node.append(onnx.helper.make_node("Reshape", ["flat_embedding", "per_band"], ["embedding"]))
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.array([-1, 2, 128], np.int64), "per_band"))
    (output,) = [o for o in model.graph.output if o.name == "embedding"]
    output.CopyFrom(onnx.helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, ["batch", 2, 128]))
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match=r"output 'embedding' has shape \['batch', 2, 128\], expected \[batch, size\]"):
        ModelRunner(path)
