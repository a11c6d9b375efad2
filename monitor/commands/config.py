"""``sound-monitor config``: check a daemon config file, or print a commented example."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from monitor.config import load_config
from monitor.config.schema import Config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "config",
        help="check a daemon config file or print an example",
        description="Validate the config file of 'sound-monitor run --config FILE' (every problem, with its line; "
        "with the model present, its rules files too), or print a commented example to start from.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", type=Path, metavar="FILE", help="validate FILE; exit 0 if valid, 2 if not")
    group.add_argument("--example", action="store_true", help="print a commented example config")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.example:
        sys.stdout.write(EXAMPLE.read_text(encoding="utf-8"))
        return 0
    config = load_config(args.check, os.environ)
    print(summary(config))
    for note in missing_files(config):
        print(f"note: {note}")
    for line in check_rules(config):
        print(line)
    return 0


def summary(config: Config) -> str:
    sources = ", ".join(f"{s.id} ({s.kind}{': ' + s.target if s.target else ''})" for s in config.sources)
    mqtt = config.mqtt.host if config.mqtt else "off"
    clips = "on" if config.clips.enabled else "off"
    return (
        f"{config.path}: OK: {len(config.sources)} source(s): {sources}; model {config.model.path}; "
        f"rules {config.rules}; state {config.state_dir}; mqtt {mqtt}; clips {clips}"
    )


def check_rules(config: Config) -> list[str]:
    """With the model present, validate every rules file against its labels and the learnt sounds
    (RulesError: exit 2)."""
    if not config.model.path.is_file():
        return []
    from monitor.commands.common import warn
    from monitor.model.runner import ModelRunner
    from monitor.rules import load_rules
    from monitor.sounds.model import SoundModel, read_sounds

    runner = ModelRunner(config.model.path)
    loaded = read_sounds(runner, config.sounds_dir) if config.sounds_dir else None
    for problem in loaded.problems if loaded else ():
        warn(problem)
    model = SoundModel(runner, loaded.sounds if loaded else ())
    paths = dict.fromkeys(config.rules_for(s) for s in config.sources)
    return [
        f"{path}: {len(load_rules(path, model.labels, model.metadata.thresholds).rules)} rules OK for {model.metadata.name}"
        for path in paths
        if path.is_file()
    ]


def missing_files(config: Config) -> list[str]:
    """Files the config names that do not exist yet (the daemon will refuse to start without them)."""
    wanted = [("model", config.model.path), ("rules", config.rules)]
    wanted += [(f"sources {s.id} rules", s.rules) for s in config.sources if s.rules]
    wanted += [(f"sources {s.id} file", Path(s.target)) for s in config.sources if s.kind == "file" and s.target]
    return [f"{what} file {path} does not exist yet" for what, path in wanted if path is not None and not path.exists()]
