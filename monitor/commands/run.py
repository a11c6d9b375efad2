"""``sound-monitor run``: live monitoring from a microphone, file, stream or the demo scene.

With ``--config FILE`` it is the headless daemon (:mod:`monitor.daemon`): every source,
rules, clips, journal and MQTT as the config file says, with systemd integration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from monitor.alerts import Alert, AlertCleared
from monitor.commands.common import add_model_args, format_prediction, prediction_json
from monitor.commands.rules_common import add_rules_args, default_rules_path
from monitor.config import load_config
from monitor.config.from_args import config_from_arguments
from monitor.daemon import logfmt
from monitor.daemon.service import Daemon
from monitor.errors import UserError
from monitor.mqtt.settings import add_arguments as add_mqtt_arguments
from monitor.predictions import Prediction
from monitor.stream.source_stream import SILENCE_DBFS
from monitor.textsafe import printable


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "run",
        help="monitor live audio: predictions, rules, alerts (and MQTT with --mqtt)",
        description="Monitor a microphone, a file (paced with --realtime), a stream URL or the synthetic "
        "demo scene: print each window's top labels and every alert the rules raise. Alerts are "
        "journaled in the state directory and, with --mqtt, published. With --config FILE it is the "
        "headless daemon.",
    )
    parser.add_argument(
        "--source",
        default=None,
        help="'mic' (default), 'demo' (a synthetic smoke-alarm scene), an audio file or a stream URL",
    )
    parser.add_argument("--device", default=None, help="microphone by index or name (see 'sound-monitor devices')")
    parser.add_argument("--realtime", action="store_true", help="pace a file source in real time, like a microphone")
    parser.add_argument("--json", action="store_true", help="print one JSON object per window and per alert")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="where the alert journal lives (default: ~/.local/state/sound-monitor)")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="run as the daemon configured by FILE (sources, rules, MQTT, clips; "
        "'sound-monitor config --example' prints one); the other options then do not apply",
    )
    add_model_args(parser)
    add_rules_args(parser)
    add_mqtt_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.config is not None:
        return run_daemon(args)
    args.source = args.source or "mic"
    if args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    config = config_from_arguments(args, args.rules or default_rules_path(), os.environ)
    logfmt.configure("info" if args.verbose else "warning", journald=False)
    return Daemon(config, os.environ, echo=Echo(args.json)).run()


@dataclass
class Echo:
    """Shows each prediction, alert and clear on stdout as it happens. A source whose input is
    pure digital silence (a muted or unplugged microphone reads as exactly -120 dBFS) is named
    once on stderr, rather than leaving only '(below level gate)' lines to puzzle over."""

    as_json: bool
    silent: set[str] = field(default_factory=set)

    def __call__(self, item: Prediction | Alert | AlertCleared) -> None:
        if isinstance(item, Prediction) and item.level_dbfs <= SILENCE_DBFS and item.source not in self.silent:
            self.silent.add(item.source)
            print(printable(f"note: {item.source}: the input is digital silence ({SILENCE_DBFS:g} dBFS): "
                            "is the microphone muted, or the wrong device?"), file=sys.stderr, flush=True)  # fmt: skip
        echo(item, self.as_json)


def echo(item: Prediction | Alert | AlertCleared, as_json: bool) -> None:
    """Show a prediction, an alert or a clear on stdout as it happens."""
    if isinstance(item, Prediction):
        line = prediction_json(item) if as_json else format_prediction(item)
    elif isinstance(item, Alert):
        line = json.dumps({"event": "alert", **item.to_json()}) if as_json else (
            f"ALERT {item.severity.value.upper()} {item.rule} on {item.source} at {item.onset:.1f} s: {item.message}")
    else:
        line = json.dumps({"event": "cleared", **asdict(item)}) if as_json else (
            f"CLEAR {item.rule} on {item.source} at {item.stream_time:.1f} s")
    print(printable(line), flush=True)  # a message from a rules file must not drive the terminal


def run_daemon(args: argparse.Namespace) -> int:
    given = [flag for flag, value in (("--source", args.source), ("--device", args.device), ("--model", args.model),
                                      ("--realtime", args.realtime), ("--json", args.json), ("--rules", args.rules),
                                      ("--mode", args.mode), ("--mqtt", args.mqtt), ("--state-dir", args.state_dir),
                                      ("--sounds-dir", args.sounds_dir),
                                      ) if value]  # fmt: skip
    if given:
        raise UserError(f"{', '.join(given)} cannot be combined with --config: set them in {args.config}")
    config = load_config(args.config, os.environ)
    level = config.logging.level if not args.verbose else ("info" if args.verbose == 1 else "debug")
    journald = bool(os.environ.get("JOURNAL_STREAM"))  # stderr goes to the journal: priorities, no timestamps
    logfmt.configure(level, journald)
    return Daemon(config, os.environ, journald=journald).run()
