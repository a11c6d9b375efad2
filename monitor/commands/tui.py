"""``sound-monitor tui``: the live dashboard, running the monitor itself or attached to the daemon.

Standalone (default) it opens the source, the model and the rules and runs the
pipeline in process (a file is paced in real time unless ``--fast``); ``--attach``
watches a running daemon over MQTT instead and sets its mode through
``<prefix>/mode/set``. Log lines are held while the dashboard owns the terminal
and printed when it exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import deque
from pathlib import Path

from monitor.audio.open import open_source
from monitor.commands.common import add_model_args, load_model
from monitor.commands.rules_common import add_rules_args, default_rules_path
from monitor.errors import UserError
from monitor.journal import Journal, default_state_dir, journal_path
from monitor.mqtt.settings import MqttSettings, parse_broker, resolve_credentials
from monitor.rules import Engine, RuleSet, RulesError, load_rules
from monitor.tui.feed import Feed

DEFAULT_BROKER = "localhost"
HELD_LOG_LINES = 200


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "tui",
        help="live terminal dashboard (in process, or --attach to the daemon over MQTT)",
        description="Live dashboard: level, spectrogram, what the model hears, rules, alerts and mode. "
        "Keys: h/a/n mode, p pause, ? help, q quit. Standalone it runs the monitor itself; with --attach "
        "it watches the running daemon through its MQTT topics.",
    )
    parser.add_argument("--source", default=None,
                        help="'mic' (default), 'demo', an audio file (played in real time) or a stream URL")
    parser.add_argument("--device", default=None, help="microphone by index or name (see 'sound-monitor devices')")
    parser.add_argument("--fast", action="store_true", help="read a file as fast as possible instead of in real time")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="where the alert journal lives (default: ~/.local/state/sound-monitor)")
    add_model_args(parser)
    add_rules_args(parser)
    attach = parser.add_argument_group("attached to the daemon")
    attach.add_argument("--attach", action="store_true", help="watch the running daemon over MQTT instead")
    attach.add_argument("--mqtt", metavar="HOST[:PORT]", default=None,
                        help=f"the daemon's MQTT broker (default: {DEFAULT_BROKER}; credentials from "
                        "$SOUND_MONITOR_MQTT_USERNAME / $SOUND_MONITOR_MQTT_PASSWORD)")
    attach.add_argument("--mqtt-prefix", metavar="PREFIX", default=None,
                        help="the daemon's topic prefix (default: sound-monitor/<host name>)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    feed = attached_feed(args) if args.attach else local_feed(args)
    from monitor.tui.app import MonitorApp  # Textual loads only when the dashboard really starts

    app = MonitorApp(feed)
    held = _hold_logging()
    try:
        app.run()
    finally:
        _release_logging(held)
    if app.failure:
        print(f"sound-monitor: error: {app.failure}", file=sys.stderr)
        return 1
    return 0


def attached_feed(args: argparse.Namespace) -> Feed:
    standalone = [name for name in ("source", "device", "model", "rules", "mode", "state_dir")
                  if getattr(args, name) is not None]  # fmt: skip
    if args.fast:
        standalone.append("fast")
    if standalone:
        raise UserError(f"--attach watches the daemon, which owns its source, model and rules: drop "
                        f"{', '.join('--' + name for name in standalone)}")
    from monitor.tui.mqtt_feed import MqttFeed

    host, port = parse_broker(args.mqtt or DEFAULT_BROKER)
    settings = resolve_credentials(MqttSettings(host=host, port=port, topic_prefix=args.mqtt_prefix), os.environ)
    return MqttFeed(settings)


def local_feed(args: argparse.Namespace) -> Feed:
    if args.mqtt is not None or args.mqtt_prefix is not None:
        raise UserError("--mqtt and --mqtt-prefix go with --attach (the standalone dashboard publishes nothing)")
    from monitor.tui.local_feed import LocalFeed

    model = load_model(args)
    rules, note = _rules(args, model.metadata.labels, model.metadata.thresholds, model.metadata.name)
    engine = Engine(rules)
    if args.mode:
        engine.set_mode(args.mode, hold=True)
    spec = args.source or "mic"
    realtime = not args.fast or spec == "demo"
    source = open_source(spec, model.metadata.features.sample_rate, realtime=realtime, device=args.device)
    home = os.environ.get("HOME")
    journal = Journal(journal_path(args.state_dir or default_state_dir(os.environ, Path(home) if home else None)))
    return LocalFeed(source, model, engine, args.hop, note=note, journal=journal)


def _rules(args: argparse.Namespace, labels: tuple[str, ...], thresholds: dict[str, float], model: str) -> tuple[RuleSet, str]:
    """The rules file; without --rules, a default file that does not fit the model means no rules (said so)."""
    if args.rules is not None:
        return load_rules(args.rules, labels, thresholds), ""
    path = default_rules_path()
    try:
        return load_rules(path, labels, thresholds), ""
    except RulesError:
        return RuleSet(rules=()), f"no rules: {path} does not fit model {model!r} (check-rules tells why; pass --rules)"


def _hold_logging() -> tuple[list[logging.Handler], "_Held"]:
    """Log records would scribble over the dashboard: keep the last few until it exits."""
    root = logging.getLogger()
    previous = list(root.handlers)
    held = _Held()
    for handler in previous:
        root.removeHandler(handler)
    root.addHandler(held)
    return previous, held


def _release_logging(state: tuple[list[logging.Handler], "_Held"]) -> None:
    previous, held = state
    root = logging.getLogger()
    root.removeHandler(held)
    for handler in previous:
        root.addHandler(handler)
    for record in held.records:
        for handler in previous:
            if record.levelno >= handler.level:
                handler.handle(record)
    if held.dropped:
        print(f"sound-monitor: {held.dropped} earlier log lines were dropped", file=sys.stderr)


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: deque[logging.LogRecord] = deque(maxlen=HELD_LOG_LINES)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) == self.records.maxlen:
            self.dropped += 1
        self.records.append(record)
