"""``sound-monitor train``: train a model on a folder of labelled clips and export it to ONNX.

PyTorch and onnx are needed only here (``pip install -e .[train]``); the runtime
never imports them.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from monitor.errors import UserError
from monitor.train import DEFAULT_CACHE
from monitor.train.config import AugmentConfig, TrainConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on labelled clips and export it to ONNX",
        description="Train the CNN on DATA (a folder with manifest.csv [path,label,fold,group] or "
        "<label>/*.wav|flac|ogg|mp3 sub-folders) and export an ONNX model with its metadata.",
    )
    p.add_argument("data", type=Path, help="training data folder")
    p.add_argument("--init", type=Path, default=None, metavar="CHECKPOINT",
                   help="start from the AudioSet-pretrained EfficientAT mn04_as state dict (mn04_as_mAP_432.pt: "
                   "release v0.0.1 of github.com/fschmid56/EfficientAT, or ../shared/pretrained/); "
                   "without it the network trains from scratch")
    p.add_argument("--out", type=Path, default=Path("models/sound-monitor.onnx"), help="ONNX file to write (default: %(default)s)")
    p.add_argument("--labels", default=None, metavar="YAML",
                   help="label map (default: the shipped map for the homesounds dataset; 'identity' = one label per source label)")
    p.add_argument("--report-dir", type=Path, default=None, help="where to write the test report (default: next to --out, <name>-report/)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="feature cache folder (default: %(default)s)")
    p.add_argument("--val-fold", type=int, action="append", default=None, help="validation fold(s) (default: 1)")
    p.add_argument("--test-fold", type=int, action="append", default=None, help="held-out test fold(s) (default: 4)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="epochs (default: %(default)s)")
    p.add_argument("--batches-per-epoch", type=int, default=TrainConfig.batches_per_epoch, help="batches of augmented training windows, made once; every epoch revisits all of them (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size, help="windows per batch (default: %(default)s)")
    p.add_argument("--distill", type=float, default=TrainConfig.distill, metavar="WEIGHT",
                   help="with --init: weight of the loss that keeps the AudioSet head's predictions "
                   "those of the original network (0 = off; default: %(default)s)")
    p.add_argument("--frozen-blocks", type=int, default=TrainConfig.frozen_blocks, metavar="N",
                   help="with --init: trunk modules features.0..N-1 keep AudioSet's weights and are computed once "
                   "per training window; the rest is fine-tuned (0..17; default: %(default)s)")
    p.add_argument("--members", default=",".join(map(str, TrainConfig.members)), metavar="N,N,...",
                   help="one fine-tuned network per entry, their probabilities averaged; each entry is how many "
                   "trunk time steps (0.32 s each) its head scores at a time, pooling the segments' scores so a short "
                   "sound is not averaged over the window (0 = the window's mean; default: %(default)s)")
    p.add_argument("--balance", type=float, default=TrainConfig.balance,
                   help="label sampling weight = clips**BALANCE: 0 = every label equally often (default: %(default)s)")
    p.add_argument("--peak-anywhere", type=float, default=AugmentConfig.p_peak_anywhere, metavar="SHARE",
                   help="share of training windows whose event may run off the window's edges, its loudest "
                   "moment anywhere in it: teaches events that have only just begun (default: %(default)s)")
    p.add_argument("--warp", type=float, default=AugmentConfig.p_warp, metavar="SHARE",
                   help=f"share of training events played {AugmentConfig.stretch[0]:g}-{AugmentConfig.stretch[1]:g}x as fast "
                   f"and shifted up to {AugmentConfig.max_band_shift} mel bands in pitch: more kinds of glass, doors and "
                   "voices than the recordings hold (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for PyTorch (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise UserError(f"training needs PyTorch and onnx ({exc.name} is missing): pip install -e .[train]") from None
    from monitor.train.labelmap import label_map_from_arg
    from monitor.train.run import TrainOptions, run_training

    if args.init is not None:  # before hours of work, not after the features are computed
        from monitor.train.mobilenet import MobileNetV3, load_pretrained

        load_pretrained(MobileNetV3(), args.init)
    if not 0 <= args.distill <= 100:
        raise UserError("--distill must be between 0 and 100")
    for name in ("balance", "peak_anywhere", "warp"):
        if not 0 <= getattr(args, name) <= 1:
            raise UserError(f"--{name.replace('_', '-')} must be between 0 and 1")
    if not 0 <= args.frozen_blocks <= 17:
        raise UserError("--frozen-blocks must be between 0 and 17 (the trunk has modules features.0-16)")
    members = parse_members(args.members)
    for name in ("epochs", "batches_per_epoch", "batch_size", "threads"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    val = set(args.val_fold or [1])
    test = set(args.test_fold or [4])
    for fold in val | test:
        if not 1 <= fold <= 5:
            raise UserError(f"fold {fold} is outside 1..5")
    opts = TrainOptions(
        data=args.data,
        label_map=label_map_from_arg(args.labels),
        out=args.out,
        report_dir=args.report_dir or args.out.with_name(args.out.stem + "-report"),
        cache_dir=args.cache,
        val_folds=val,
        test_folds=test,
        config=TrainConfig(epochs=args.epochs, batches_per_epoch=args.batches_per_epoch, batch_size=args.batch_size,
                           seed=args.seed, threads=args.threads, balance=args.balance, distill=args.distill,
                           frozen_blocks=args.frozen_blocks, members=members),
        augment=AugmentConfig(p_peak_anywhere=args.peak_anywhere, p_warp=args.warp),
        init=args.init,
        name=args.out.stem,
        command="sound-monitor " + shlex.join(sys.argv[1:]),
    )
    run_training(opts, log=lambda msg: print(msg, flush=True))
    return 0


def parse_members(text: str) -> tuple[int, ...]:
    """'0,3' -> (0, 3); anything else is a one-line error saying what is allowed."""
    try:
        members = tuple(int(part) for part in text.split(","))
    except ValueError:
        members = ()
    if not 1 <= len(members) <= 4 or not all(0 <= m <= 16 for m in members):
        raise UserError(f"--members {text!r}: give 1 to 4 comma-separated segment lengths between 0 and 16 "
                        "(trunk time steps of 0.32 s; a 5-s window has 16), e.g. 0,3")
    return members
