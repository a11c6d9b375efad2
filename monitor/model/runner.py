"""Model runner: batched ONNX Runtime inference on log-mel windows.

Takes a model path (validated on load against its own metadata) and batches of
(n_mels, n_frames) matrices; gives a score per label per window, in [0, 1], and,
when the model has an output named ``embedding``, the per-window embedding vector
(what learnt sounds are classified from).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monitor.errors import ModelError
from monitor.model.metadata import ModelMetadata
from monitor.shipped import model_path
from monitor.smallfile import not_regular

EMBEDDING_OUTPUT = "embedding"
# Optional boolean input of models that compute their embedding only on request (see monitor.train.ondemand).
EMBEDDING_SWITCH = "with_embedding"


class ModelRunner:
    """One ONNX Runtime session on the CPU, shared by all sources."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        try:
            kind = not_regular(path.stat().st_mode)  # ONNX Runtime would hang on a FIFO, read /dev/zero for ever
        except FileNotFoundError:
            hint = " (train one with 'sound-monitor train' or pass --model FILE)" if path == model_path() else ""
            raise ModelError(f"model file not found: {path}{hint}") from None
        except OSError as exc:
            raise ModelError(f"{path}: cannot read the model file: {exc.strerror}") from None
        if kind is not None:
            raise ModelError(f"{path}: the model path {kind} (pass an .onnx file)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only; ORT warnings are not the user's business
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types for every kind of bad file
            raise ModelError(f"{path}: not a loadable ONNX model ({str(exc).splitlines()[0][:200]})") from None
        self.path = path
        # Every metadata key, also those ModelMetadata does not interpret (e.g. the background bank of learnt sounds).
        self.props: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        self.metadata = ModelMetadata.from_props(self.props, str(path))
        self._check_shapes()

    def _check_shapes(self) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelError(f"{self.path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        self._input_name = inputs[0].name
        expected_in = self.metadata.features.input_shape
        shape_in = inputs[0].shape
        if len(shape_in) != 4 or tuple(shape_in[1:]) != expected_in:
            raise ModelError(
                f"{self.path}: input shape {shape_in} does not match its metadata "
                f"(expected [batch, {', '.join(map(str, expected_in))}] from n_mels, window_seconds, "
                "sample_rate and hop_length)"
            )
        shape_out = outputs[0].shape
        if len(shape_out) != 2 or shape_out[1] != len(self.metadata.labels):
            raise ModelError(
                f"{self.path}: output shape {shape_out} does not match its {len(self.metadata.labels)} labels"
            )
        embedding = [o for o in outputs[1:] if o.name == EMBEDDING_OUTPUT]
        self.embedding_size: int | None = None
        if embedding:
            shape = embedding[0].shape
            if len(shape) != 2 or not isinstance(shape[1], int) or shape[1] < 1:
                raise ModelError(f"{self.path}: output '{EMBEDDING_OUTPUT}' has shape {shape}, expected [batch, size]")
            self.embedding_size = shape[1]
        self._outputs = [outputs[0].name] + ([EMBEDDING_OUTPUT] if embedding else [])
        self._switch = bool(embedding) and any(i.name == EMBEDDING_SWITCH for i in self._session.get_overridable_initializers())

    @property
    def labels(self) -> tuple[str, ...]:
        return self.metadata.labels

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Scores (batch, n_labels) for log-mel windows shaped (batch, n_mels, n_frames).

        A model that computes its embedding on request is not asked for it.
        """
        if not self._switch or len(windows) == 0:
            return self.predict_with_embedding(windows)[0]
        feed = {self._input_name: self._batch(windows), EMBEDDING_SWITCH: np.array(False)}
        return activate(self._session.run(self._outputs[:1], feed)[0], self.metadata.activation)

    def predict_with_embedding(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores (batch, n_labels) and embeddings (batch, size), or None for a model without them."""
        if len(windows) == 0:
            empty = np.empty((0, self.embedding_size), np.float32) if self.embedding_size else None
            return np.empty((0, len(self.labels)), dtype=np.float32), empty
        out = self._session.run(self._outputs, {self._input_name: self._batch(windows)})
        return activate(out[0], self.metadata.activation), (out[1] if len(out) > 1 else None)

    @staticmethod
    def _batch(windows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(windows[:, None, :, :], dtype=np.float32)


def activate(raw: np.ndarray, activation: str) -> np.ndarray:
    """Apply the model's declared output activation."""
    if activation == "softmax":
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
    if activation == "sigmoid":
        # tanh form: no overflow warning for very negative logits (1 / (1 + exp(-x)) overflows there).
        return (0.5 * (1.0 + np.tanh(0.5 * raw))).astype(raw.dtype, copy=False)
    return raw
