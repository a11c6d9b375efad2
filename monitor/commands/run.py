"""``sound-monitor run``: live monitoring from a microphone, file, stream or the demo scene.

With ``--config FILE`` it is the headless daemon (:mod:`monitor.daemon`): every source,
rules, clips, journal and MQTT as the config file says, with systemd integration.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from monitor.audio.open import open_source
from monitor.commands.common import add_model_args, format_prediction, load_model, prediction_json
from monitor.errors import UserError
from monitor.pipeline import Pipeline


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "run",
        help="monitor live audio and print predictions as they come",
        description="Monitor a microphone, a file (paced with --realtime), a stream URL or the synthetic "
        "demo scene, printing each window's top labels.",
    )
    parser.add_argument(
        "--source",
        default=None,
        help="'mic' (default), 'demo' (a synthetic smoke-alarm scene), an audio file or a stream URL",
    )
    parser.add_argument("--device", default=None, help="microphone by index or name (see 'sound-monitor devices')")
    parser.add_argument("--realtime", action="store_true", help="pace a file source in real time, like a microphone")
    parser.add_argument("--json", action="store_true", help="print one JSON object per window")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="run as the daemon configured by FILE (sources, rules, MQTT, clips; "
        "'sound-monitor config --example' prints one); the other options then do not apply",
    )
    add_model_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.config is not None:
        return run_daemon(args)
    args.source = args.source or "mic"
    model = load_model(args)
    realtime = args.realtime or args.source == "demo"
    source = open_source(args.source, model.metadata.features.sample_rate, realtime=realtime, device=args.device)
    pipeline = Pipeline([source], model, hop_seconds=args.hop)
    signal.signal(signal.SIGTERM, lambda *_: pipeline.stop())
    print(f"monitoring {source.id} with {model.metadata.name} (hop {args.hop:g} s); Ctrl-C stops", file=sys.stderr)
    try:
        for prediction in pipeline.run():
            print(prediction_json(prediction) if args.json else format_prediction(prediction), flush=True)
    except KeyboardInterrupt:
        pipeline.stop()
    return 0


def run_daemon(args: argparse.Namespace) -> int:
    from monitor.config import load_config
    from monitor.daemon import logfmt
    from monitor.daemon.service import Daemon

    given = [flag for flag, value in (("--source", args.source), ("--device", args.device), ("--model", args.model),
                                      ("--realtime", args.realtime), ("--json", args.json)) if value]  # fmt: skip
    if given:
        raise UserError(f"{', '.join(given)} cannot be combined with --config: set them in {args.config}")
    config = load_config(args.config, os.environ)
    level = config.logging.level if not args.verbose else ("info" if args.verbose == 1 else "debug")
    journald = bool(os.environ.get("JOURNAL_STREAM"))  # stderr goes to the journal: priorities, no timestamps
    logfmt.configure(level, journald)
    return Daemon(config, os.environ, journald=journald).run()
