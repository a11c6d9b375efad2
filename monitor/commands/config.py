"""``sound-monitor config``: check a daemon config file, or print a commented example."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from monitor.config import load_config
from monitor.config.schema import Config
from monitor.errors import UserError

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "config",
        help="check a daemon config file or print an example",
        description="Validate the config file of 'sound-monitor run --config FILE' (every problem, with its line; "
        "the model, its rules files and file sources, loaded as the daemon would), or print a commented example.",
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
    checked = check_files(config)
    print(summary(config))
    for line in checked:
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


def check_files(config: Config) -> list[str]:
    """Load what the daemon loads at start: the model with the learnt sounds, every rules file
    (against the model's labels and the sounds) and every file source. Gives one line per rules
    file that is valid; raises a UserError listing every problem that would stop the daemon."""
    from monitor.audio.file import FileSource
    from monitor.commands.common import warn
    from monitor.model.runner import ModelRunner
    from monitor.rules import load_rules
    from monitor.sounds.model import SoundModel, read_sounds

    problems: list[str] = []
    model: SoundModel | None = None
    try:
        runner = ModelRunner(config.model.path)
        loaded = read_sounds(runner, config.sounds_dir) if config.sounds_dir else None
        for problem in loaded.problems if loaded else ():
            warn(problem)
        model = SoundModel(runner, loaded.sounds if loaded else ())
    except UserError as exc:
        problems.append(f"{config.path}: model.path: {exc}")
    checked = []
    for path in dict.fromkeys(config.rules_for(s) for s in config.sources):
        try:
            if model is None:  # without labels only the file itself can be checked
                path.read_bytes()
                continue
            rules = load_rules(path, model.labels, model.metadata.thresholds)
            checked.append(f"{path}: {len(rules.rules)} rules OK for {model.metadata.name}")
        except OSError as exc:
            problems.append(f"{path}: cannot read the rules file: {exc.strerror}")
        except UserError as exc:
            problems.append(str(exc))
    for source in config.sources:
        if source.kind == "file":
            try:
                FileSource(Path(str(source.target))).stop()
            except UserError as exc:
                problems.append(f"{config.path}:{source.line}: sources {source.id}: {exc}")
    if problems:
        raise UserError("\n".join(problems))
    return checked
