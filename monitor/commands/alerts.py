"""``sound-monitor alerts``: list the alert journal.

Takes ``--since`` (a duration back from now such as ``30m``, ``12h``, ``7d``, or a
date/time such as ``2026-11-22`` or ``2026-11-22T06:30``), ``--limit``,
``--state-dir`` and ``--json``; gives a table with one line per journaled alert,
oldest first: its time (for a recording, its position in it), source, whether the broker
has acknowledged it (``-``: never owed to one) and when it cleared (``--json``: one JSON
object per line, every alert field plus ``seq``, ``raised_at``, ``delivered_at``,
``cleared_at`` and ``deliver``). A row that cannot be read back is listed as
``UNREADABLE`` with its id and the reason (``--json``: ``seq``, ``id``, ``raised_at``,
``unreadable``); the monitor skips such rows when it replays the journal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

from monitor.alerts import position
from monitor.errors import UserError
from monitor.journal import Journal, JournalEntry, UnreadableEntry, default_state_dir, journal_path
from monitor.textsafe import printable

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="list journaled alerts",
        description="List the alerts in the journal (every alert is journaled before it is published).",
    )
    parser.add_argument(
        "--since", metavar="WHEN", help="only alerts from this time on: 30m, 12h, 7d, 2w, or 2026-11-22[T06:30]"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the newest N alerts")
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="state directory holding alerts.sqlite3 (default: $XDG_STATE_HOME/sound-monitor "
        "or ~/.local/state/sound-monitor)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def parse_since(text: str, now: float) -> float:
    """A duration back from ``now`` or an ISO date/time (local time unless it has an offset) -> Unix time."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"--since {text!r}: give a duration (30m, 12h, 7d, 2w) or a date/time (2026-11-22 or 2026-11-22T06:30)"
        ) from None
    return moment.timestamp()  # naive datetimes are local time


MAX_LIMIT = 2**62

_HEADER = (
    f"{'time':<20}  {'source':<12}  {'severity':<8}  {'rule':<20}  {'label':<16}  {'score':>5}  {'mode':<5}  "
    f"{'mqtt':<9}  {'cleared':<8}  message"
)


def _line(entry: JournalEntry | UnreadableEntry) -> str:
    if isinstance(entry, UnreadableEntry):
        when = datetime.fromtimestamp(entry.raised_at).isoformat(sep=" ", timespec="seconds")
        return f"{when:<19}  UNREADABLE journal row {entry.id} (seq {entry.seq}): {entry.reason}"
    alert = entry.alert
    if alert.recording:  # where in the recording: it has no time of day of its own
        when, source = f"{position(alert.onset)} in recording", Path(alert.source).name
    else:
        when, source = datetime.fromtimestamp(alert.wall_time).isoformat(sep=" ", timespec="seconds"), alert.source
    if not entry.deliver:
        delivered = "-"  # never owed to a broker: a run without MQTT, the demo or a recording
    else:
        delivered = "delivered" if entry.delivered_at is not None else "PENDING"
    cleared = datetime.fromtimestamp(entry.cleared_at).strftime("%H:%M:%S") if entry.cleared_at else "-"
    return (
        f"{when:<20}  {source:<12}  {alert.severity.value:<8}  {alert.rule:<20}  {alert.label:<16}  "
        f"{alert.score:5.2f}  {alert.mode:<5}  {delivered:<9}  {cleared:<8}  {alert.message}"
    )


def run(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir(os.environ)
    path = journal_path(state_dir)
    if not path.is_file():
        raise UserError(f"no alert journal at {path}: the monitor creates it when it runs; check --state-dir")
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit must be at least 1")
    since = parse_since(args.since, time.time()) if args.since else None
    with Journal(path) as journal:
        # SQLite's integers end at 2**63 - 1; a larger --limit simply means every alert.
        limit = None if args.limit is None or args.limit > MAX_LIMIT else args.limit
        entries = journal.entries(since=since, limit=limit)
    if not args.json and entries:
        print(_HEADER)
    for entry in entries:
        print(json.dumps(entry.to_json()) if args.json else printable(_line(entry)))
    return 0
