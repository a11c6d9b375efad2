"""Command-line entry point: parses arguments and dispatches to ``monitor.commands``.

User mistakes (:class:`~monitor.errors.UserError`) are printed as one line on
stderr with exit code 2; nothing a user can cause ends in a traceback.
"""

from __future__ import annotations

import os

# One BLAS thread: the pipeline's matrix products are small, and OpenBLAS's worker
# threads spin and fight over a small box's cores (measured 50x slower under load).
# Must be set before numpy loads, so it sits here at the entry point.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from monitor import __version__  # noqa: E402
from monitor.commands import (  # noqa: E402
    alerts,
    check_rules,
    classify,
    config,
    detect,
    devices,
    evaluate,
    learn,
    run,
    sounds,
    train,
    tui,
)
from monitor.errors import UserError  # noqa: E402
from monitor.textsafe import printable  # noqa: E402

COMMANDS = (classify, run, devices, check_rules, detect, alerts, config, train, evaluate, tui, learn, sounds)


class CommandParser(argparse.ArgumentParser):
    """A command's parser: an unknown option is reported with this command's usage, not the top level's."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sound-monitor",
        description="Real-time sound-event monitor for home security.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=CommandParser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"sound-monitor: error: {printable(str(exc), keep=chr(10))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error.
        sys.stderr.close()
        return 0
