"""Where the model and the default rules shipped with sound-monitor are.

Takes nothing; gives paths found through the installed package (``importlib.resources``).
The repository keeps the model in ``models/`` and the rules at its top; ``pyproject.toml``
maps them into the wheel as the data folders ``monitor/shipped_model`` and
``monitor/shipped_rules``. Run from a checkout (an editable install or ``python -m
monitor``) those folders do not exist, and the repository's own files are used.
(The training label map, ``monitor/train/default_labels.yaml``, is a package file anyway.)
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _shipped(folder: str, name: str, in_repository: str) -> Path:
    package = Path(str(files("monitor")))
    installed = package / folder
    return installed / name if installed.is_dir() else package.parent / in_repository


def model_path() -> Path:
    """The shipped ONNX model."""
    return _shipped("shipped_model", "sound-monitor.onnx", "models/sound-monitor.onnx")


def rules_path() -> Path:
    """The shipped default rules file."""
    return _shipped("shipped_rules", "rules.yaml", "rules.yaml")

