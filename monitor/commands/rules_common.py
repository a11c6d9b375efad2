"""Rules arguments shared by ``detect`` and ``run``: ``--rules FILE`` and ``--mode``.

Takes parsed arguments and the loaded model's metadata; gives a ready
:class:`~monitor.rules.engine.Engine` (or raises the rules file's problems as a
:class:`~monitor.rules.RulesError`, which the CLI prints line by line).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.model.metadata import ModelMetadata
from monitor.rules import MODES, Engine, load_rules
from monitor.shipped import rules_path



def default_rules_path() -> Path:
    """``rules.yaml`` in the working directory if there is one, else the shipped default."""
    local = Path("rules.yaml")
    return local if local.is_file() else rules_path()


def add_rules_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", type=Path, default=None, metavar="FILE",
                        help="rules file (default: ./rules.yaml, else the shipped rules.yaml)")
    parser.add_argument("--mode", choices=MODES, default=None,
                        help="hold this mode for the whole run (default: the rules file's schedule and mode)")


def open_engine(args: argparse.Namespace, metadata: ModelMetadata) -> Engine:
    engine = Engine(load_rules(args.rules or default_rules_path(), metadata.labels, metadata.thresholds))
    if args.mode:
        engine.set_mode(args.mode, hold=True)
    return engine
