"""ONNX export: the trained network plus the metadata the runtime reads.

Takes a trained PyTorch model and a :class:`~monitor.model.metadata.ModelMetadata`;
writes an ONNX file with input ``logmel`` [batch, 1, n_mels, n_frames] (dynamic
batch), outputs ``scores`` [batch, n_labels] (raw logits) and ``embedding``
[batch, 384] (computed only on request, see :mod:`monitor.train.ondemand`), and ``metadata_props`` from
``ModelMetadata.to_props()``; then loads it back through
:class:`~monitor.model.runner.ModelRunner` and checks ONNX Runtime and PyTorch agree.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import torch

from monitor.errors import ModelError
from monitor.model.metadata import ModelMetadata
from monitor.model.runner import EMBEDDING_OUTPUT, ModelRunner
from monitor.train.ondemand import embedding_on_request

OPSET = 17


def export_onnx(model: torch.nn.Module, metadata: ModelMetadata, path: Path) -> None:
    model.eval()
    dummy = torch.zeros(1, *metadata.features.input_shape)
    buffer = io.BytesIO()
    torch.onnx.export(
        model, (dummy,), buffer, dynamo=False, opset_version=OPSET,
        input_names=["logmel"], output_names=["scores", EMBEDDING_OUTPUT],
        dynamic_axes={"logmel": {0: "batch"}, "scores": {0: "batch"}, EMBEDDING_OUTPUT: {0: "batch"}},
    )
    save_with_metadata(onnx.load_from_string(buffer.getvalue()), metadata, path)


def save_with_metadata(proto: onnx.ModelProto, metadata: ModelMetadata, path: Path) -> None:
    """Write ``proto`` with ``metadata`` (any earlier props dropped) and a ``model_id`` hashed from its graph.

    Then a graph with an ``embedding`` output is made to compute it only on request; the id is the
    graph's as exported, which that rewrite does not change in what it computes.
    """
    model_id = hashlib.sha256(proto.graph.SerializeToString()).hexdigest()[:16]
    if any(o.name == EMBEDDING_OUTPUT for o in proto.graph.output):
        embedding_on_request(proto.graph, proto.graph.output[0].name, EMBEDDING_OUTPUT)
    metadata = replace(metadata, info={**metadata.info, "model_id": model_id})
    del proto.metadata_props[:]
    for key, value in metadata.to_props().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = metadata.info.get("description", "")
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    onnx.save(proto, str(tmp))
    tmp.replace(path)


def verify_export(model: torch.nn.Module, path: Path, windows: np.ndarray, tolerance: float = 1e-4) -> float:
    """Max |ORT - PyTorch| difference of the scores and the embedding on ``windows``; raises if above ``tolerance``."""
    runner = ModelRunner(path, threads=1)
    ort_scores, ort_embedding = runner.predict_with_embedding(windows)
    model.eval()
    with torch.no_grad():
        logits, embedding = model(torch.from_numpy(np.ascontiguousarray(windows[:, None], dtype=np.float32)))
    torch_scores = torch.sigmoid(logits).numpy() if runner.metadata.activation == "sigmoid" else logits.numpy()
    diff = 0.0
    if len(windows):
        diff = float(np.max(np.abs(ort_scores - torch_scores)))
        if ort_embedding is not None:
            # Embeddings are unbounded: compare relative to their scale.
            scale = max(1.0, float(np.abs(embedding.numpy()).max()))
            diff = max(diff, float(np.max(np.abs(ort_embedding - embedding.numpy()))) / scale)
    if diff > tolerance:
        raise ModelError(f"{path}: ONNX Runtime and PyTorch disagree by {diff:.2e} (> {tolerance:.0e}) on real inputs")
    return diff
