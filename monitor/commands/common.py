"""Arguments and helpers shared by several commands (model, learnt sounds, hop, prediction output)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from monitor.errors import UserError
from monitor.model.runner import ModelRunner
from monitor.shipped import model_path
from monitor.predictions import Prediction
from monitor.sounds.model import SoundModel, open_model
from monitor.sounds.store import default_sounds_dir
from monitor.stream.windower import MAX_HOP, MIN_HOP

# Offline commands try a stream URL this often before giving up (the daemon retries for ever).
STREAM_ATTEMPTS = 3


def hop_seconds(text: str) -> float:
    """argparse type for --hop."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not MIN_HOP <= value <= MAX_HOP:
        raise argparse.ArgumentTypeError(f"hop must be between {MIN_HOP} and {MAX_HOP} seconds, got {value:g}")
    return value


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, default=None, help=f"ONNX model file (default: {model_path()})"
    )
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default: 1)")
    parser.add_argument(
        "--hop", type=hop_seconds, default=1.0, help="seconds between window starts, 0.25-5 (default: 1)"
    )
    add_sounds_dir_arg(parser)


def add_sounds_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sounds-dir", type=Path, default=None, metavar="DIR",
                        help="learnt sounds (default: $XDG_CONFIG_HOME/sound-monitor/sounds, ~/.config/...)")


def sounds_dir(args: argparse.Namespace) -> Path:
    """--sounds-dir, else the default folder (the environment is read here, at the edge)."""
    home = os.environ.get("HOME")
    return args.sounds_dir or default_sounds_dir(os.environ, Path(home) if home else None)


def load_model(args: argparse.Namespace) -> SoundModel:
    """The model with the learnt sounds; a sounds file that cannot be used is a warning, not an error."""
    if args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    model, loaded = open_model(args.model or model_path(), sounds_dir(args), threads=args.threads)
    for problem in loaded.problems:
        warn(problem)
    return model


def load_runner(args: argparse.Namespace) -> ModelRunner:
    """The model alone (for commands that manage learnt sounds)."""
    return ModelRunner(args.model or model_path(), threads=getattr(args, "threads", 1))


def warn(message: str) -> None:
    print(f"sound-monitor: warning: {message}", file=sys.stderr)


def format_prediction(prediction: Prediction, top: int = 3) -> str:
    """One human-readable timeline line: time range, level, top labels."""
    head = f"{prediction.source}  {prediction.start:7.2f}-{prediction.end:7.2f} s  {prediction.level_dbfs:6.1f} dBFS"
    if prediction.skipped:
        return f"{head}  (below level gate)"
    labels = "  ".join(f"{label} {score:.2f}" for label, score in prediction.top(top))
    return f"{head}  {labels}"


def prediction_json(prediction: Prediction) -> str:
    return json.dumps(prediction.to_json())
