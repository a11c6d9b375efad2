"""``sound-monitor sounds list | show NAME | remove NAME | test NAME FILE...``: the learnt sounds.

Takes the sounds folder (and for ``test`` the model and recordings); ``list`` prints one
line per sounds file (unusable ones with the reason), ``show`` what one sound was learnt
from and how well, ``remove`` deletes its file (a running daemon drops it at its next
reload), ``test`` runs recordings through the streaming pipeline and prints the sound's
score in every window, marking those at or above its threshold.
"""

from __future__ import annotations

import argparse
import json

from monitor.commands.common import add_model_args, load_runner, sounds_dir
from monitor.errors import UserError
from monitor.sounds.store import NAME, SUFFIX, LearntSound, read_sound, sound_path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("sounds", help="list, show, remove or test the learnt sounds",
                            description="Manage the sounds taught with 'sound-monitor learn'.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every learnt sound, with its threshold and state")
    show = actions.add_parser("show", help="what a sound was learnt from and how well")
    show.add_argument("name", metavar="NAME")
    remove = actions.add_parser("remove", help="delete a learnt sound")
    remove.add_argument("name", metavar="NAME")
    test = actions.add_parser("test", help="the sound's score in every window of recordings")
    test.add_argument("name", metavar="NAME")
    test.add_argument("paths", nargs="+", metavar="FILE", help="audio files or stream URLs")
    test.add_argument("--json", action="store_true", help="one JSON object per window")
    for p in (listing, show, remove, test):
        add_model_args(p)
    for p, func in ((listing, run_list), (show, run_show), (remove, run_remove), (test, run_test)):
        p.set_defaults(func=func)


def _checked(args: argparse.Namespace, name: str) -> LearntSound:
    """One sound, checked against the model (UserError if missing, corrupt or from another model)."""
    if not NAME.match(name):
        raise UserError(f"'{name}' is not a valid sound name (see 'sound-monitor sounds list')")
    path = sound_path(sounds_dir(args), name)
    if not path.is_file():
        raise UserError(f"no learnt sound '{name}' in {path.parent} (see 'sound-monitor sounds list')")
    runner = load_runner(args)
    return read_sound(path, runner.metadata.model_id, runner.embedding_size)


def run_list(args: argparse.Namespace) -> int:
    folder = sounds_dir(args)
    paths = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    if not paths:
        print(f"no learnt sounds in {folder} (teach one with 'sound-monitor learn NAME FILE...')")
        return 0
    runner = load_runner(args)
    for path in paths:
        try:
            sound = read_sound(path, runner.metadata.model_id, runner.embedding_size)
        except UserError as exc:
            print(f"{path.name.removesuffix(SUFFIX)}  NOT USABLE: {str(exc).removeprefix(f'{path}: ')}")
            continue
        info = sound.learnt
        print(f"{sound.name}  threshold {sound.threshold:.3f}  examples {len(info.get('examples', []))}  "  # type: ignore[arg-type]
              f"leave-one-out recall {info.get('loo_recall', '?')}  learnt {info.get('created', '?')}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    sound = _checked(args, args.name)
    info = sound.learnt
    print(f"{sound.name}: {sound_path(sounds_dir(args), sound.name)}")
    print(f"  model {sound.model_id}; threshold {sound.threshold:.3f}; learnt {info.get('created', '?')}")
    print(f"  leave-one-out recall {info.get('loo_recall', '?')}; estimated false alarms "
          f"{info.get('false_alarms_per_hour', '?')} per hour on {info.get('background_hours', '?')} h of background")
    for example in info.get("examples", []):  # type: ignore[attr-defined]
        print(f"  example: {example}")
    for skipped in info.get("skipped", []):  # type: ignore[attr-defined]
        print(f"  skipped: {skipped}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    if not NAME.match(args.name):
        raise UserError(f"'{args.name}' is not a valid sound name (see 'sound-monitor sounds list')")
    path = sound_path(sounds_dir(args), args.name)
    try:
        path.unlink()
    except FileNotFoundError:
        raise UserError(f"no learnt sound '{args.name}' in {path.parent} (see 'sound-monitor sounds list')") from None
    except OSError as exc:
        raise UserError(f"cannot remove {path}: {exc.strerror}") from None
    print(f"removed '{args.name}' ({path}); a running daemon drops it at its next reload")
    return 0


def run_test(args: argparse.Namespace) -> int:
    from monitor.audio.open import open_source
    from monitor.pipeline import Pipeline
    from monitor.sounds.model import SoundModel

    sound = _checked(args, args.name)
    model = SoundModel(load_runner(args), [sound])
    sources = [open_source(path, model.metadata.features.sample_rate) for path in args.paths]
    for source in sources:
        hits = windows = 0
        for p in Pipeline([source], model, hop_seconds=args.hop).run():
            score = p.scores[sound.name]
            windows += 1
            hits += score >= sound.threshold
            if args.json:
                print(json.dumps({"source": p.source, "start": round(p.start, 3), "end": round(p.end, 3),
                                  "score": round(score, 4), "detected": score >= sound.threshold}))
            else:
                mark = "  <- detected" if score >= sound.threshold else ""
                print(f"{p.source}  {p.start:7.2f}-{p.end:7.2f} s  {sound.name} {score:.3f}{mark}")
        if not args.json:
            print(f"{source.id}: {hits} of {windows} windows at or above the threshold {sound.threshold:.3f}")
    return 0
