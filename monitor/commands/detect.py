"""``sound-monitor detect PATH...``: run the streaming pipeline and the rules over recordings.

Takes audio files or stream URLs, a model and a rules file; prints one line per alert
(or, with ``--json``, one JSON object per alert: every :class:`~monitor.alerts.Alert`
field, ``stream_time`` and ``onset`` in seconds from the start of the recording).
A recording's end clears its alerts. Windows below every rule's level gate skip inference.
A recording that raised nothing although a rule's threshold was crossed gets a line on
stderr naming the rule closest to firing and what it lacked.
"""

from __future__ import annotations

import argparse
import json
import sys

from monitor.alerts import Alert
from monitor.audio.open import open_source
from monitor.commands.common import STREAM_ATTEMPTS, add_model_args, load_model
from monitor.commands.rules_common import add_rules_args, open_engine
from monitor.pipeline import Pipeline
from monitor.rules.near_miss import NearMiss
from monitor.textsafe import printable


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "detect",
        help="print the alerts the rules raise on recordings",
        description="Run the streaming pipeline and the rules over recordings (as fast as possible) and print "
        "one line per alert. Without --mode the rules file's schedule decides, at the time the recording is read.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio files (wav, flac, ogg, mp3) or stream URLs")
    add_rules_args(parser)
    add_model_args(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per alert")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = load_model(args)
    engine = open_engine(args, model.metadata)
    rate = model.metadata.features.sample_rate
    # Open every input first so a bad path fails before any output.
    sources = [open_source(path, rate, attempts=STREAM_ATTEMPTS) for path in args.paths]
    count = 0
    for source in sources:
        pipeline = Pipeline([source], model, hop_seconds=args.hop, gate_dbfs=engine.min_gate_dbfs)
        near_miss, raised = NearMiss(engine), 0
        for prediction in pipeline.run():
            near_miss.observe(prediction)
            for event in engine.process(prediction):
                if isinstance(event, Alert):
                    raised += 1
                    print(json.dumps(event.to_json()) if args.json else printable(format_alert(event)), flush=True)
        engine.finish(source.id)
        count += raised
        closest = near_miss.closest() if not raised else None
        if closest is not None:
            print(printable(f"{source.id}: no alert; closest: {closest}"), file=sys.stderr)
    print(f"{count} alert{'s' if count != 1 else ''} in {len(sources)} recording{'s' if len(sources) != 1 else ''}",
          file=sys.stderr)
    return 0


def format_alert(alert: Alert) -> str:
    return (f"{alert.source}  {alert.stream_time:7.2f} s  {alert.severity.value.upper():8}  {alert.rule}: "
            f"{alert.message}  [onset {alert.onset:.2f} s, {alert.label} {alert.score:.2f}, {alert.mode}]")
