"""Label maps: which source labels of a dataset become which model label.

Takes a YAML file (or nothing, for the identity map); gives a validated
:class:`LabelMap`. File format::

    labels:                      # model label -> source labels merged into it
      door: [door_creak_or_slam]
      household: [vacuum_cleaner, kitchen_sounds]
    synthetic_silence: silence   # optional: a generated room-tone / near-silence class
    drop: [cow]                  # optional: source labels deliberately left out
    background: [household]      # optional: model labels whose clips are mixed under others
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.errors import UserError

DEFAULT_LABEL_MAP = Path(__file__).with_name("default_labels.yaml")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class LabelMap:
    """``sources`` maps source label -> model label; ``None`` means identity (every folder is a label)."""

    sources: dict[str, str] | None
    model_labels: tuple[str, ...]  # in the order the map lists them (identity: filled from the data)
    silence: str | None = None
    drop: frozenset[str] = frozenset()
    background: tuple[str, ...] = ()  # model labels used as mixing backgrounds in augmentation

    def target(self, source_label: str) -> str | None:
        """The model label for a source label, or None if the map does not know it."""
        if self.sources is None:
            return source_label
        return self.sources.get(source_label)

    def describe(self) -> dict[str, list[str]]:
        """model label -> source labels (for the model card)."""
        out: dict[str, list[str]] = {label: [] for label in self.model_labels}
        for source, label in (self.sources or {}).items():
            out[label].append(source)
        return out


def identity_map(silence: str | None = "silence") -> LabelMap:
    return LabelMap(sources=None, model_labels=(), silence=silence)


def load_label_map(path: Path | None) -> LabelMap:
    """Read and validate a label-map YAML; ``None`` reads the shipped default map."""
    path = path or DEFAULT_LABEL_MAP
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"label map {where} not found (pass --labels FILE or --labels identity)") from None
    except yaml.YAMLError as exc:
        raise UserError(f"label map {where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("labels"), dict) or not data["labels"]:
        raise UserError(f"label map {where}: needs a 'labels:' mapping of model label -> list of source labels")
    unknown_keys = sorted(set(data) - {"labels", "synthetic_silence", "drop", "background"})
    if unknown_keys:
        raise UserError(
            f"label map {where}: unknown keys {', '.join(map(str, unknown_keys))} "
            "(allowed: labels, synthetic_silence, drop, background)"
        )
    problems: list[str] = []
    sources: dict[str, str] = {}
    for label, members in data["labels"].items():
        if not isinstance(label, str) or not _NAME.match(label):
            problems.append(f"model label {label!r} is not a plain name")
            continue
        if not isinstance(members, list) or not members or not all(isinstance(m, str) and m for m in members):
            problems.append(f"'{label}' must list at least one source label")
            continue
        for member in members:
            if member in sources:
                problems.append(f"source label '{member}' is mapped twice ('{sources[member]}' and '{label}')")
            sources[member] = label
    silence = data.get("synthetic_silence")
    if silence is not None and (not isinstance(silence, str) or not _NAME.match(silence)):
        problems.append("'synthetic_silence' must be a label name")
    if silence in data["labels"]:
        problems.append(f"'synthetic_silence' label '{silence}' is also listed under labels")
    drop = data.get("drop") or []
    if not isinstance(drop, list) or not all(isinstance(d, str) for d in drop):
        problems.append("'drop' must be a list of source labels")
        drop = []
    both = sorted(set(drop) & set(sources))
    if both:
        problems.append(f"source labels both mapped and dropped: {', '.join(both)}")
    background = data.get("background") or []
    if not isinstance(background, list) or not all(b in data["labels"] for b in background):
        problems.append("'background' must list model labels defined under 'labels'")
        background = []
    if problems:
        raise UserError(f"label map {where}: " + "; ".join(problems))
    labels = tuple(str(k) for k in data["labels"]) + ((silence,) if silence else ())
    return LabelMap(
        sources=sources, model_labels=labels, silence=silence, drop=frozenset(drop), background=tuple(background)
    )


def label_map_from_arg(value: str | None) -> LabelMap:
    """The ``--labels`` option: a YAML path, 'identity', or None for the default map."""
    if value == "identity":
        return identity_map()
    return load_label_map(Path(value) if value else None)
