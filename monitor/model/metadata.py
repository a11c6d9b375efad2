"""Model metadata: what an ONNX model file says about itself.

Takes the ``metadata_props`` string map of an ONNX model; gives a validated
:class:`ModelMetadata` (labels, feature parameters, activation, thresholds) or a
:class:`~monitor.errors.ModelError` naming every problem. Training writes the same
map with :meth:`ModelMetadata.to_props`, so reader and writer cannot drift apart.

Keys (all values are strings, JSON where structured)::

    sound_monitor.format   "1"
    labels                 JSON list of label names, in output order
    sample_rate, n_mels, n_fft, hop_length, window_seconds, fmin, fmax, top_db
    activation             "softmax" | "sigmoid" | "none" (applied by the runtime to the raw output)
    thresholds             optional JSON object label -> calibrated decision threshold
    name, description, training_data, git_commit   optional, informational
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from monitor.errors import ModelError
from monitor.features.params import FeatureParams

FORMAT_KEY = "sound_monitor.format"
FORMAT_VERSION = "1"
ACTIVATIONS = ("softmax", "sigmoid", "none")
INFO_KEYS = ("name", "description", "training_data", "git_commit")


@dataclass(frozen=True)
class ModelMetadata:
    labels: tuple[str, ...]
    features: FeatureParams
    activation: str = "softmax"
    thresholds: dict[str, float] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.get("name", "unnamed model")

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` map to store in the ONNX file."""
        f = self.features
        props = {
            FORMAT_KEY: FORMAT_VERSION,
            "labels": json.dumps(list(self.labels)),
            "sample_rate": str(f.sample_rate),
            "n_mels": str(f.n_mels),
            "n_fft": str(f.n_fft),
            "hop_length": str(f.hop_length),
            "window_seconds": repr(f.window_seconds),
            "fmin": repr(f.fmin),
            "fmax": "none" if f.fmax is None else repr(f.fmax),
            "top_db": "none" if f.top_db is None else repr(f.top_db),
            "activation": self.activation,
            "thresholds": json.dumps(self.thresholds),
        }
        props.update({k: v for k, v in self.info.items() if k in INFO_KEYS})
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], where: str) -> "ModelMetadata":
        """Parse and validate; ``where`` (the file path) is named in every error."""
        problems: list[str] = []
        if props.get(FORMAT_KEY) != FORMAT_VERSION:
            raise ModelError(
                f"{where}: not a sound-monitor model (metadata key '{FORMAT_KEY}' is "
                f"{props.get(FORMAT_KEY)!r}, expected {FORMAT_VERSION!r}); export it with "
                "'sound-monitor train' or add the metadata described in monitor/model/metadata.py"
            )

        def need(key: str, parse, optional_none: bool = False):  # type: ignore[no-untyped-def]
            raw = props.get(key)
            if raw is None:
                problems.append(f"missing metadata key '{key}'")
                return None
            if optional_none and raw.lower() == "none":
                return None
            try:
                return parse(raw)
            except (ValueError, TypeError):
                problems.append(f"metadata key '{key}' has unreadable value {raw!r}")
                return None

        labels = need("labels", json.loads)
        if labels is not None and (
            not isinstance(labels, list)
            or not labels
            or not all(isinstance(x, str) and x for x in labels)
            or len(set(labels)) != len(labels)
        ):
            problems.append("metadata 'labels' must be a non-empty JSON list of distinct names")
            labels = None
        values = {
            "sample_rate": need("sample_rate", int),
            "n_mels": need("n_mels", int),
            "n_fft": need("n_fft", int),
            "hop_length": need("hop_length", int),
            "window_seconds": need("window_seconds", float),
            "fmin": need("fmin", float),
            "fmax": need("fmax", float, optional_none=True),
            "top_db": need("top_db", float, optional_none=True),
        }
        activation = props.get("activation", "")
        if activation not in ACTIVATIONS:
            problems.append(f"metadata 'activation' is {activation!r}, expected one of {', '.join(ACTIVATIONS)}")
        thresholds = need("thresholds", json.loads) if "thresholds" in props else {}
        if thresholds is not None and not (
            isinstance(thresholds, dict)
            and all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in thresholds.values())
        ):
            problems.append("metadata 'thresholds' must map labels to numbers in [0, 1]")
            thresholds = None
        if labels and thresholds:
            unknown = sorted(set(thresholds) - set(labels))
            if unknown:
                problems.append(f"metadata 'thresholds' names unknown labels: {', '.join(unknown)}")
        features = None
        if None not in (values["sample_rate"], values["n_mels"], values["n_fft"], values["hop_length"]):
            try:
                features = FeatureParams(**values)  # type: ignore[arg-type]
            except (ValueError, TypeError) as exc:
                problems.append(f"feature parameters are inconsistent: {exc}")
        if problems or labels is None or features is None:
            raise ModelError(f"{where}: bad model metadata: " + "; ".join(problems))
        return cls(
            labels=tuple(labels),
            features=features,
            activation=activation,
            thresholds={k: float(v) for k, v in (thresholds or {}).items()},
            info={k: props[k] for k in INFO_KEYS if k in props},
        )
