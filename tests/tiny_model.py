"""Builds small, deterministic ONNX models for tests (no trained model needed).

The model averages each mel band over time and maps the 128 band energies to
labels with a fixed matrix: ``low`` responds to energy in the lowest third of the
mel bands, ``mid`` to the middle third and ``high`` to the top third, so a test can
predict the top label of a tone from its frequency. With ``embedding=True`` it also
outputs an ``embedding``: each band's mean and peak over time (2 x n_mels values), which
tells a two-tone chime from other tones and noise, as a real model's embedding would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from monitor.features.params import FeatureParams
from monitor.model.metadata import ModelMetadata

LABELS = ("low", "mid", "high")


def tiny_metadata(labels: tuple[str, ...] = LABELS, **features: object) -> ModelMetadata:
    return ModelMetadata(
        labels=labels,
        features=FeatureParams(**features),  # type: ignore[arg-type]
        activation="softmax",
        thresholds={labels[0]: 0.5},
        info={"name": "tiny-test-model"},
    )


def make_tiny_model(
    path: Path,
    metadata: ModelMetadata | None = None,
    props: dict[str, str] | None = None,
    input_shape: tuple[object, ...] | None = None,
    embedding: bool = False,
) -> Path:
    """Write the model to ``path``; ``props`` replaces the metadata map wholesale."""
    metadata = metadata or tiny_metadata()
    f = metadata.features
    n_labels = len(metadata.labels)
    weights = np.zeros((f.n_mels, n_labels), dtype=np.float32)
    for band in range(f.n_mels):
        weights[band, min(n_labels - 1, band * n_labels // f.n_mels)] = 1.0
    # Scale so a 20 dB band difference moves the softmax decisively.
    weights *= 3.0 / (f.n_mels / n_labels)
    shape = input_shape or ("batch", 1, f.n_mels, f.n_frames)
    x = helper.make_tensor_value_info("logmel", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n_labels])
    nodes = [
        helper.make_node("ReduceMean", ["logmel", "axes"], ["pooled"], keepdims=0),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([3], dtype=np.int64), "axes"),
        numpy_helper.from_array(np.array([-1, f.n_mels], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(weights, "w"),
    ]
    outputs = [y]
    if embedding:
        nodes += [
            helper.make_node("ReduceMax", ["logmel", "axes"], ["peak"], keepdims=0),
            helper.make_node("Reshape", ["peak", "flat_shape"], ["peak_flat"]),
            helper.make_node("Concat", ["flat", "peak_flat"], ["embedding"], axis=1),
        ]
        outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 2 * f.n_mels]))
    graph = helper.make_graph(nodes, "tiny", [x], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    for key, value in (props if props is not None else metadata.to_props()).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def nan_model(tiny_model: Path, path: Path) -> Path:
    """The tiny model with NaN weights: what a broken export or front end looks like at run time."""
    model = onnx.load(str(tiny_model))
    (weights,) = [w for w in model.graph.initializer if w.name == "w"]
    weights.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(weights).shape, np.nan, np.float32), "w"))
    onnx.save(model, str(path))
    return path
