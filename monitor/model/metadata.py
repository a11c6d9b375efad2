"""Model metadata: what an ONNX model file says about itself.

Takes the ``metadata_props`` string map of an ONNX model; gives a validated
:class:`ModelMetadata` (labels, feature parameters, activation, thresholds) or a
:class:`~monitor.errors.ModelError` naming every problem. Training writes the same
map with :meth:`ModelMetadata.to_props`, so reader and writer cannot drift apart.

Keys (all values are strings, JSON where structured)::

    sound_monitor.format   "1"
    labels                 JSON list of label names, in output order
    sample_rate, n_mels, n_fft, hop_length, window_seconds, fmin, fmax, top_db   (required)
    win_length, window, preemphasis, center, pad_mode, power, mel_scale, mel_norm,
    compression, amin, log_eps, log_offset, log_scale
                           the rest of the front end (optional: absent keys take the
                           librosa/dB defaults of FeatureParams, so older models still load;
                           a value this runtime does not implement is refused by name)
    activation             "softmax" | "sigmoid" | "none" (applied by the runtime to the raw output)
    thresholds             optional JSON object label -> calibrated decision threshold
    name, description, training_data, git_commit   optional, informational
    model_id               optional: SHA-256 (first 16 hex digits) of the exported graph and weights;
                           what learnt sounds are tied to (thresholds can change, the network not)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields

from monitor.errors import ModelError
from monitor.features.params import FeatureParams

FORMAT_KEY = "sound_monitor.format"
FORMAT_VERSION = "1"
ACTIVATIONS = ("softmax", "sigmoid", "none")
INFO_KEYS = ("name", "description", "training_data", "git_commit", "model_id")
REQUIRED_FEATURE_KEYS = ("sample_rate", "n_mels", "n_fft", "hop_length", "window_seconds", "fmin", "fmax", "top_db")


def format_value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def parse_value(raw: str, annotation: str) -> object:
    """A metadata string as the type of the FeatureParams field it fills (ValueError if it is not one)."""
    if "None" in annotation and raw.lower() == "none":
        return None
    if annotation.startswith("bool"):
        if raw.lower() not in ("true", "false"):
            raise ValueError(raw)
        return raw.lower() == "true"
    if annotation.startswith("int"):
        return int(raw)
    if annotation.startswith("float"):
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"{raw} is not a finite number")
        return value
    return raw


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

    @property
    def model_id(self) -> str | None:
        return self.info.get("model_id")

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` map to store in the ONNX file."""
        props = {
            FORMAT_KEY: FORMAT_VERSION,
            "labels": json.dumps(list(self.labels)),
            **{f.name: format_value(getattr(self.features, f.name)) for f in fields(FeatureParams)},
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

        def need(key: str, parse):  # type: ignore[no-untyped-def]
            raw = props.get(key)
            if raw is None:
                problems.append(f"missing metadata key '{key}'")
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
        values: dict[str, object] = {}
        for f in fields(FeatureParams):
            raw = props.get(f.name)
            if raw is None:
                if f.name in REQUIRED_FEATURE_KEYS:
                    problems.append(f"missing metadata key '{f.name}'")
                continue
            try:
                values[f.name] = parse_value(raw, str(f.type))
            except ValueError as exc:
                problems.append(f"metadata key '{f.name}' is {raw!r}, not a finite number" if "finite" in str(exc)
                                else f"metadata key '{f.name}' has unreadable value {raw!r}")
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
        if all(k in values for k in ("sample_rate", "n_mels", "n_fft", "hop_length")):
            try:
                features = FeatureParams(**values)  # type: ignore[arg-type]
            except (ValueError, TypeError) as exc:
                problems.append(f"front end not usable: {exc}")
        if problems or labels is None or features is None:
            raise ModelError(f"{where}: bad model metadata: " + "; ".join(problems))
        return cls(
            labels=tuple(labels),
            features=features,
            activation=activation,
            thresholds={k: float(v) for k, v in (thresholds or {}).items()},
            info={k: props[k] for k in INFO_KEYS if k in props},
        )
