"""Sounds files: one learnt sound per JSON file in the sounds folder.

Takes a folder (and the loaded model's identity and labels); gives
:class:`LearntSound` records, or a one-line reason per file that cannot be used.
The format (``<name>.sound.json``)::

    {"format": "sound-monitor.sound", "version": 1,
     "name": "doorbell",                    # the label it adds (rules, dashboard, MQTT)
     "model_id": "019ec67a26f5987d",         # the model whose embedding it was learnt on
     "embedding_size": 384,
     "weights": [384 numbers], "bias": -3.1, # score = sigmoid(weights . e / |e| + bias)
     "threshold": 0.62,                      # detection threshold (rules use it by default)
     "learnt": {"examples": [...], "skipped": [...], "loo_recall": 0.9,
                "false_alarms_per_hour": 0.0, "background_hours": 0.12, "created": "..."}}

``learnt`` is informational (shown by ``sounds show``); everything else is checked.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.errors import UserError
from monitor.sounds.classifier import logistic_scores

FORMAT = "sound-monitor.sound"
VERSION = 1
SUFFIX = ".sound.json"
MAX_FILE_BYTES = 1 << 20
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def default_sounds_dir(environ: Mapping[str, str], home: Path | None = None) -> Path:
    """``$XDG_CONFIG_HOME/sound-monitor/sounds``, else ``~/.config/sound-monitor/sounds``."""
    if environ.get("XDG_CONFIG_HOME"):
        return Path(environ["XDG_CONFIG_HOME"]) / "sound-monitor" / "sounds"
    return (home or Path.home()) / ".config" / "sound-monitor" / "sounds"


def check_name(name: str, builtin: tuple[str, ...]) -> None:
    """Raise UserError unless ``name`` can be a new label next to the model's ``builtin`` labels."""
    if not NAME.match(name):
        raise UserError(f"'{name}' is not a valid sound name: use 1-40 lower-case letters, digits and _, "
                        "starting with a letter (e.g. doorbell, garage_door)")
    if name in builtin:
        raise UserError(f"'{name}' is already a label of the model: choose another name (e.g. my_{name})")


@dataclass(frozen=True)
class LearntSound:
    name: str
    model_id: str
    weights: np.ndarray  # (embedding_size,) float32, applied to the L2-normalised embedding
    bias: float
    threshold: float
    learnt: dict[str, object] = field(default_factory=dict, compare=False)

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """Scores in [0, 1] for embeddings shaped (batch, embedding_size)."""
        return logistic_scores(embeddings, self.weights, self.bias)

    def to_json(self) -> dict[str, object]:
        return {"format": FORMAT, "version": VERSION, "name": self.name, "model_id": self.model_id,
                "embedding_size": len(self.weights), "weights": [round(float(w), 6) for w in self.weights],
                "bias": round(self.bias, 6), "threshold": round(self.threshold, 4), "learnt": self.learnt}


def sound_path(folder: Path, name: str) -> Path:
    return folder / f"{name}{SUFFIX}"


def save_sound(folder: Path, sound: LearntSound) -> Path:
    """Write atomically (a reloading daemon never reads half a file); gives the file's path."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = sound_path(folder, sound.name)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(sound.to_json(), indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write the sound to {folder}: {exc.strerror} (pass --sounds-dir DIR)") from None
    return path


def read_sound(path: Path, model_id: str | None, embedding_size: int | None) -> LearntSound:
    """One sounds file, checked against the loaded model (UserError naming the file and what to do)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UserError(f"{path}: too large for a sounds file (over 1 MiB)")
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    except (ValueError, RecursionError):
        raise UserError(f"{path}: corrupt sounds file (not JSON): remove it or learn the sound again") from None
    sound = _parse(data, path)
    name = sound.name
    if embedding_size is None or model_id is None:
        raise UserError(f"{path}: the model has no embedding output (or no model_id), so learnt sounds cannot "
                        f"run on it: use a model exported with an embedding")
    if sound.model_id != model_id:
        raise UserError(f"{path}: '{name}' was learnt on model {sound.model_id}, not on the loaded model "
                        f"{model_id}: learn it again ('sound-monitor learn {name} FILE...') or remove it")
    if len(sound.weights) != embedding_size:
        raise UserError(f"{path}: corrupt sounds file ({len(sound.weights)} weights for a "
                        f"{embedding_size}-value embedding): learn the sound again")
    return sound


def _parse(data: object, path: Path) -> LearntSound:
    def bad(why: str) -> UserError:
        return UserError(f"{path}: corrupt sounds file ({why}): remove it or learn the sound again")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise bad(f"'format' is not {FORMAT!r}")
    if data.get("version") != VERSION:
        raise bad(f"version {data.get('version')!r}, this program reads version {VERSION}")
    name, model_id = data.get("name"), data.get("model_id")
    if not isinstance(name, str) or not NAME.match(name) or path.name != f"{name}{SUFFIX}":
        raise bad(f"'name' {name!r} is not a valid name matching the file name")
    if not isinstance(model_id, str) or not model_id:
        raise bad("no 'model_id'")
    weights, bias, threshold = data.get("weights"), data.get("bias"), data.get("threshold")
    if not isinstance(weights, list) or not weights or not all(_finite(w) for w in weights):
        raise bad("'weights' must be a list of finite numbers")
    if not _finite(bias) or not _finite(threshold) or not 0.0 < float(threshold) < 1.0:  # type: ignore[arg-type]
        raise bad("'bias' must be a finite number and 'threshold' a number between 0 and 1")
    learnt = data.get("learnt") if isinstance(data.get("learnt"), dict) else {}
    return LearntSound(name, model_id, np.asarray(weights, np.float32), float(bias), float(threshold),  # type: ignore[arg-type]
                       learnt)  # type: ignore[arg-type]


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...] | None:
    """Name, mtime and size of every sounds file (None without a folder): what a reload watches."""
    try:
        return tuple(sorted((p.name, st.st_mtime_ns, st.st_size) for p in folder.iterdir()
                            if p.name.endswith(SUFFIX) and (st := p.stat())))
    except OSError:
        return None


@dataclass(frozen=True)
class LoadedSounds:
    sounds: tuple[LearntSound, ...]
    problems: tuple[str, ...]  # one line per file left out, saying what to do


def load_sounds(folder: Path, model_id: str | None, embedding_size: int | None,
                builtin: tuple[str, ...]) -> LoadedSounds:
    """Every usable sounds file in ``folder`` (a missing folder has none), sorted by name."""
    try:
        paths = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))
    except FileNotFoundError:
        return LoadedSounds((), ())
    except OSError as exc:
        return LoadedSounds((), (f"{folder}: cannot list the sounds folder: {exc.strerror}",))
    sounds, problems = [], []
    for path in paths:
        try:
            sound = read_sound(path, model_id, embedding_size)
            if sound.name in builtin:
                raise UserError(f"{path}: '{sound.name}' is also a label of the model: remove the file")
            sounds.append(sound)
        except UserError as exc:
            problems.append(str(exc))
    return LoadedSounds(tuple(sounds), tuple(problems))
