"""``sound-monitor learn NAME FILE...``: teach the monitor a new sound from a few recordings.

Takes the sound's name, 3 or more example recordings, optional recordings of the room
(``--background``) and the sounds folder; writes ``<name>.sound.json`` there and prints
what was learnt: examples used and skipped (and why), leave-one-out recall, the estimated
false alarms per hour on the background it had, and the threshold.
``learn --build-background-bank DATA --model FILE`` instead stores the background bank
(:mod:`monitor.sounds.bank`) in a model file, after training.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.commands.common import add_sounds_dir_arg, load_runner, sounds_dir, warn
from monitor.errors import UserError
from monitor.shipped import model_path
from monitor.sounds.store import check_name, save_sound, sound_path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "learn",
        help="learn a new sound from a few recordings of it",
        description="Learn a new sound (a doorbell, a garage door, ...) from 3 or more recordings of it: a small "
        "classifier on the model's embedding, stored in the sounds folder. Its name can then be used in "
        "rules like any label. Recordings may be longer than the sound: the sounding part is found from the level.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the new label (lower case, digits, _)")
    parser.add_argument("files", nargs="*", type=Path, metavar="FILE", help="recordings of the sound (3 or more)")
    parser.add_argument("--background", nargs="+", type=Path, default=[], metavar="FILE",
                        help="recordings of the room without the sound (strongly recommended)")
    parser.add_argument("--force", action="store_true", help="replace a sound of the same name")
    parser.add_argument("--model", type=Path, default=None, help=f"ONNX model file (default: {model_path()})")
    parser.add_argument("--build-background-bank", type=Path, default=None, metavar="DATA",
                        help="instead: store the background bank of the training data DATA in --model's file")
    add_sounds_dir_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.build_background_bank is not None:
        return build_bank(args)
    if not args.name:
        raise UserError("learn needs a NAME and 3 or more recordings: sound-monitor learn NAME FILE FILE FILE...")
    from monitor.sounds.bank import read_background_bank
    from monitor.sounds.examples import read_recording
    from monitor.sounds.learn import learn

    runner = load_runner(args)
    check_name(args.name, runner.labels)
    folder = sounds_dir(args)
    if sound_path(folder, args.name).exists() and not args.force:
        raise UserError(f"a sound '{args.name}' is already learnt ({sound_path(folder, args.name)}): "
                        "pass --force to replace it, or choose another name")
    for path in [*args.files, *args.background]:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    rate = runner.metadata.features.sample_rate
    backgrounds = [read_recording(path, rate) for path in args.background]
    bank = read_background_bank(runner)
    if bank is None:
        warn(f"{runner.path} carries no background bank: false alarms are estimated on --background only"
             + ("" if args.background else " (none given: record the room for a minute and pass --background)"))
    result = learn(runner, args.name, args.files, backgrounds, bank)
    path = save_sound(folder, result.sound)
    for skipped in result.skipped:
        warn(f"{skipped.path}: skipped: {skipped.reason}")
    for note in result.notes:
        warn(note)
    print(f"learnt '{args.name}' in {result.seconds:.1f} s: {len(result.used)} examples used, "
          f"{len(result.skipped)} skipped")
    print(f"  leave-one-out recall {result.loo_recall:.2f} (each example held out, mixed at 0 dB and above)")
    print(f"  estimated false alarms {result.false_alarms_per_hour:.1f} per hour on {result.background_hours:.2f} h "
          f"of background ({'your recordings and ' if args.background else ''}"
          f"{'the model bank' if bank is not None else 'room tone'})")
    print(f"  threshold {result.sound.threshold:.3f}")
    print(f"saved {path}; use '{args.name}' in rules.yaml like any label, "
          f"'sound-monitor sounds test {args.name} FILE' to check it")
    return 0


def build_bank(args: argparse.Namespace) -> int:
    from monitor.sounds.bank import write_background_bank

    if args.model is None:
        raise UserError("--build-background-bank writes into a model file: pass --model FILE")
    try:
        count = write_background_bank(args.model, args.build_background_bank)
    except ImportError:
        raise UserError("--build-background-bank needs the 'onnx' package (pip install -e '.[train]')") from None
    print(f"{args.model}: stored {count} background embeddings")
    return 0
