"""``sound-monitor check-rules [FILE]``: validate a rules file against the model without running.

Exit codes: 0 valid (a summary of the rules is printed), 1 the rules file is invalid
(every problem is printed as ``file:line: problem (hint)``), 2 any other user error
(the file is missing, the model cannot be loaded).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.commands.common import add_sounds_dir_arg, sounds_dir, warn
from monitor.commands.rules_common import default_rules_path
from monitor.errors import UserError
from monitor.shipped import model_path
from monitor.rules import RulesError, RuleSet, load_rules
from monitor.rules.engine import Engine
from monitor.rules.schema import MODES, CompoundRule, SimpleRule
from monitor.sounds.model import open_model
from monitor.textsafe import printable


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "check-rules",
        help="validate a rules file against the model's labels",
        description="Validate a rules file (YAML) against the labels of the model and the learnt sounds and print a summary. "
        "Exit status: 0 valid, 1 invalid (all problems listed as file:line: problem), 2 other errors.",
    )
    parser.add_argument("file", nargs="?", type=Path, default=None, metavar="FILE",
                        help="rules file (default: ./rules.yaml, else the shipped rules.yaml)")
    parser.add_argument("--model", type=Path, default=None,
                        help=f"ONNX model whose labels the rules may use (default: {model_path()})")
    add_sounds_dir_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.file or default_rules_path()
    if not path.exists():  # no file at all: an "other error" (exit 2), not invalid rules
        raise UserError(f"rules file not found: {path} (check-rules FILE, or ./rules.yaml by default)")
    model, loaded = open_model(args.model or model_path(), sounds_dir(args))
    for problem in loaded.problems:
        warn(problem)
    metadata = model.metadata
    try:
        rules = load_rules(path, metadata.labels, metadata.thresholds)
    except RulesError as exc:
        print(exc, file=sys.stderr)
        count = len(exc.problems)
        print(f"{path}: {count} problem{'s' if count != 1 else ''}, rules not valid", file=sys.stderr)
        return 1
    print(printable(summary(rules, path), keep="\n"))
    return 0


def summary(rules: RuleSet, path: Path) -> str:
    state = Engine(rules).mode_state()
    lines = [f"{path}: OK, {len(rules.rules)} rules; level gate {rules.min_gate_dbfs:g} dBFS; "
             f"mode now: {state.mode} ({state.reason})"]
    for entry in rules.schedule:
        w = entry.window
        days = "every day" if len(w.days) == 7 else ",".join("Mo Tu We Th Fr Sa Su".split()[d] for d in sorted(w.days))
        lines.append(f"  schedule: {entry.mode} {w.start // 60:02d}:{w.start % 60:02d}-"
                     f"{w.end // 60 % 24:02d}:{w.end % 60:02d} {days}")
    for rule in rules.rules:
        timing = rule.timing
        modes = "any mode" if timing.modes == set(MODES) else "+".join(m for m in MODES if m in timing.modes)
        severities = {timing.severity[m].value for m in timing.modes}
        severity = severities.pop() if len(severities) == 1 else \
            ", ".join(f"{m} {timing.severity[m].value}" for m in MODES if m in timing.modes)
        if not timing.alert:
            severity = "no alert (part of compound rules)"
        if isinstance(rule, SimpleRule):
            sounds = ", ".join(f"{label}>={rule.thresholds[label]:.2f}" for label in rule.labels)
            what = f"{sounds}; {rule.persistence.describe()}; clear after {rule.clear_after:g}s"
        else:
            assert isinstance(rule, CompoundRule)
            joiner = " then " if rule.ordered else " and "
            what = f"{joiner.join(rule.parts)} within {rule.within:g}s"
        lines.append(f"  {rule.name}: {what}; {modes}; {severity}; cooldown {timing.cooldown:g}s")
    return "\n".join(lines)
