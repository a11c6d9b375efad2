"""``sound-monitor classify``: the per-window timeline of one or more recordings."""

from __future__ import annotations

import argparse

from monitor.audio.open import open_source
from monitor.commands.common import STREAM_ATTEMPTS, add_model_args, format_prediction, load_model, prediction_json
from monitor.pipeline import Pipeline


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "classify",
        help="print what the model hears in each window of audio files or streams",
        description="Run the streaming pipeline over recordings (as fast as possible) and print a "
        "per-window timeline: time range, level and the top labels.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio files (wav, flac, ogg, mp3) or stream URLs")
    add_model_args(parser)
    parser.add_argument("--top", type=label_count, default=3, help="labels shown per window, at least 1 (default: 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per window, with every label's score")
    parser.set_defaults(func=run)


def label_count(text: str) -> int:
    """argparse type for --top: a whole number of labels, at least one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    model = load_model(args)
    rate = model.metadata.features.sample_rate
    # Open every input first so a bad path fails before any output.
    sources = [open_source(path, rate, attempts=STREAM_ATTEMPTS) for path in args.paths]
    for source in sources:
        for prediction in Pipeline([source], model, hop_seconds=args.hop).run():
            print(prediction_json(prediction) if args.json else format_prediction(prediction, args.top), flush=True)
    return 0
