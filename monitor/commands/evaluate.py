"""``sound-monitor evaluate``: score a model on labelled clips and/or annotated long recordings.

- ``evaluate DATA [--folds N]``: clip level on the given folds of a training-data
  folder (accuracy, per-class precision/recall/F1, macro-F1, confusion-matrix PNG,
  markdown report), full band and band-limited.
- ``evaluate DATA --make-streams DIR``: also build synthetic streams from those
  folds (events inserted into background at -6/0/+6 dB) into DIR and score them.
- ``evaluate --streams DIR``: event level on recordings with ``<name>.csv`` sidecars
  (onset_s,offset_s,label): each runs through the streaming pipeline and the rule
  engine; event recall, false alarms per hour, onset-to-alert latency and the
  error of the alerts' estimated onsets.
Needs no PyTorch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from monitor.errors import UserError
from monitor.model.runner import ModelRunner
from monitor.shipped import model_path
from monitor.train import DEFAULT_CACHE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure a model on labelled clips (clip level) or annotated recordings (event level)",
        description="Clip-level metrics on DATA's folds and/or event-level metrics on long annotated recordings.",
    )
    p.add_argument("data", type=Path, nargs="?", help="labelled clips: folder with manifest.csv or <label>/ sub-folders")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped models/sound-monitor.onnx)")
    p.add_argument("--labels", default=None, metavar="YAML", help="label map from DATA's labels to the model's (default: the shipped map)")
    p.add_argument("--folds", type=int, action="append", default=None, help="folds of DATA to evaluate on (default: 4, the held-out test fold)")
    p.add_argument("--streams", type=Path, default=None, metavar="DIR", help="folder of recordings with <name>.csv sidecars (onset_s,offset_s,label)")
    p.add_argument("--make-streams", type=Path, default=None, metavar="DIR",
                   help="build synthetic streams from DATA's folds into DIR (events at -6/0/+6 dB in background) and score them")
    p.add_argument("--events-per-label", type=int, default=20, help="events per label for --make-streams (default: %(default)s)")
    p.add_argument("--rules", type=Path, default=None, metavar="YAML",
                   help="score alerts of this rules file (default: one plain rule per alert label, measuring the detector)")
    p.add_argument("--mode", default="away", help="mode the rules run in for event level (default: %(default)s)")
    p.add_argument("--calibrate", type=float, default=None, metavar="FA_PER_HOUR",
                   help="instead of evaluating: build streams from DATA's --folds (use validation folds, never test folds), "
                   "pick per-label thresholds for at most FA_PER_HOUR false alarms per hour of background, each label "
                   "detected with the persistence of its rule in --rules (else one window), never below the clip-level "
                   "F1 threshold on those folds' clips, and write them into --model")
    p.add_argument("--hop", type=float, default=0.5, help="window hop in seconds for event level (default: %(default)s)")
    p.add_argument("--ignore", default=None,
                   help="comma-separated labels that never alert (default: the label map's background labels and silence)")
    p.add_argument("--report-dir", type=Path, default=Path("evaluation"), help="where to write reports (default: %(default)s)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="feature cache folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed for --make-streams (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from monitor.train.labelmap import label_map_from_arg

    if args.data is None and args.streams is None:
        raise UserError("give a data folder (clip level) and/or --streams DIR (event level)")
    if args.make_streams and args.data is None:
        raise UserError("--make-streams needs the data folder to take events and background from")
    if args.hop <= 0:
        raise UserError("--hop must be positive")
    # Resolved here, once: an "append" option cannot default to [4] (argparse would append to it).
    args.folds = sorted(set(args.folds or [4]))
    runner = ModelRunner(args.model or model_path(), threads=1)
    label_map = label_map_from_arg(args.labels)
    ignore = set(args.ignore.split(",")) if args.ignore else set(label_map.background) | {label_map.silence or ""}
    args.report_dir.mkdir(parents=True, exist_ok=True)
    if args.calibrate is not None:
        return calibrate_thresholds(args, runner, label_map, ignore)
    parts = [f"# Evaluation of {runner.path.name} ({runner.metadata.name})\n"]
    if args.data is not None:
        parts.append(clip_level(args, runner, label_map))
    streams = args.streams
    if args.make_streams:
        streams = make_streams(args, runner, label_map, ignore)
    if streams is not None:
        from monitor.evaluate.streams import evaluate_streams, latency_summary, onset_summary

        rules = None
        if args.rules:
            from monitor.rules.loader import load_rules

            rules = load_rules(args.rules, runner.labels, runner.metadata.thresholds)
        report = evaluate_streams(runner, streams, args.hop, ignore, rules, args.mode, log=lambda m: print(m, flush=True))
        text = report.markdown()
        lat, onset = latency_summary(report), onset_summary(report)
        placed = "" if onset is None else f", median onset error {onset[0]:+.2f} s ({onset[1]:.0%} within ±0.5 s)"
        print(f"event level: {report.recordings} recordings, {report.hours:.2f} h background, "
              f"{report.false_alarms_per_hour():.2f} false alarms/h, median latency {lat if lat is None else round(lat, 2)} s"
              + placed)
        parts.append(text)
    out = args.report_dir / "report.md"
    out.write_text("\n".join(parts))
    print(f"report: {out}")
    return 0


def fold_clips(args: argparse.Namespace, runner: ModelRunner, label_map):  # type: ignore[no-untyped-def]
    """(clip features of DATA's --folds in the model's labels, an evaluation WindowMaker, the silence label)."""
    from monitor.train.augment import ROOM_TONE_SEED, ROOM_TONES, WindowMaker
    from monitor.train.cache import FeatureCache
    from monitor.train.dataset import load_dataset, skip_report

    folds = set(args.folds)
    dataset = load_dataset(args.data, label_map)
    labels = runner.labels
    chosen = [c for c in dataset.clips if c.fold in folds]
    outside = sorted({c.label for c in chosen if c.label not in labels})
    if outside:
        print(f"not in the model's labels, left out: {', '.join(outside)}")
    chosen = [c for c in chosen if c.label in labels]
    if not chosen:
        raise UserError(f"no clips of the model's labels in folds {sorted(folds)} of {args.data}")
    cache = FeatureCache(args.cache, runner.metadata.features)
    feats, corrupt = cache.load_all(chosen)
    dataset.skipped += corrupt
    print(skip_report(dataset.skipped))
    maker = WindowMaker(runner.metadata.features, cache.room_tones(ROOM_TONES, ROOM_TONE_SEED), [])
    silence = label_map.silence if label_map.silence in labels else None
    return feats, maker, silence


def clip_level(args: argparse.Namespace, runner: ModelRunner, label_map) -> str:  # type: ignore[no-untyped-def]
    from monitor.evaluate.clip_metrics import collapse
    from monitor.evaluate.clips import evaluate_clips
    from monitor.evaluate.report import clip_report
    from monitor.train.augment import N_SILENCE_EVAL

    folds = set(args.folds)
    labels = runner.labels
    feats, maker, silence = fold_clips(args, runner, label_map)
    reports = []
    for variant, title in (("full", "full band"), ("band", "band-limited (8/11.025/16 kHz recordings)")):
        report, scores, y = evaluate_clips(runner.predict, maker, feats, labels, runner.metadata.thresholds,
                                           f"{title}, folds {sorted(folds)}", variant, silence, N_SILENCE_EVAL, seed=3)
        reports.append(report)
        c_scores, c_y, c_labels = collapse(scores, y, labels, set(label_map.background) | {silence or ""})
        if c_labels != labels:
            reports.append(clip_report(f"{report.title}; background labels and silence merged", c_scores, c_y, c_labels,
                                       runner.metadata.thresholds))
    for report in reports:
        print(f"{report.title}: accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}")
    parts = []
    for n, report in enumerate(reports, 1):
        png = f"confusion-{n}.png"
        report.draw(args.report_dir / png)
        parts.append(report.markdown(png))
    return "\n".join(parts)


def make_streams(args: argparse.Namespace, runner: ModelRunner, label_map, ignore: set[str]) -> Path:  # type: ignore[no-untyped-def]
    from monitor.evaluate.mixtures import build_mixtures
    from monitor.train.dataset import load_dataset

    folds = set(args.folds)
    dataset = load_dataset(args.data, label_map)
    clips = [c for c in dataset.clips if c.fold in folds]
    rng = np.random.default_rng(args.seed)
    events = []
    for label in runner.labels:
        if label in ignore:
            continue
        mine = [c for c in clips if c.label == label]
        picks = rng.permutation(len(mine))[: args.events_per_label]
        events += [(mine[i].path, label) for i in sorted(picks)]
    backgrounds = [c.path for c in clips if c.label in label_map.background]
    if not events or not backgrounds:
        raise UserError(f"folds {sorted(folds)} of {args.data} need both event clips and background clips "
                        f"(labels {', '.join(label_map.background) or 'none declared as background'})")
    mixtures = build_mixtures(events, backgrounds, args.make_streams, runner.metadata.features.sample_rate, seed=args.seed)
    print(f"built {len(mixtures)} streams ({sum(m.duration for m in mixtures) / 3600:.2f} h) in {args.make_streams}")
    return args.make_streams


def calibrate_thresholds(args: argparse.Namespace, runner: ModelRunner, label_map, ignore: set[str]) -> int:  # type: ignore[no-untyped-def]
    try:
        from monitor.evaluate.calibrate import (calibrate, compare_persistence, persistence_table, rule_persistence,
                                                stream_scores, write_thresholds)
    except ImportError as exc:
        raise UserError(f"--calibrate writes the model file and needs onnx ({exc.name} is missing): pip install -e .[train]") from None
    from monitor.evaluate.clips import build_eval_set, clip_thresholds
    from monitor.evaluate.streams import find_recordings
    from monitor.train.augment import N_SILENCE_EVAL

    if args.data is None:
        raise UserError("--calibrate needs the data folder (its --folds give the validation streams)")
    if args.calibrate <= 0:
        raise UserError("--calibrate needs a positive number of false alarms per hour")
    args.make_streams = args.make_streams or args.report_dir / "calibration-streams"
    # The floor: the clip-level F1 thresholds on the same folds' clips, as training sets them,
    # so calibrating again (another budget, other rules) starts from the same place.
    feats, maker, silence = fold_clips(args, runner, label_map)
    floors = clip_thresholds(runner.predict, build_eval_set(maker, feats, runner.labels, "full", silence, N_SILENCE_EVAL, seed=1),
                             build_eval_set(maker, feats, runner.labels, "band", silence, N_SILENCE_EVAL, seed=2), runner.labels)
    persistence = {}
    if args.rules:
        from monitor.rules.loader import load_rules

        persistence = rule_persistence(load_rules(args.rules, runner.labels, runner.metadata.thresholds))
    folder = make_streams(args, runner, label_map, ignore)
    streams = [stream_scores(runner, audio, sidecar, args.hop) for audio, sidecar in find_recordings(folder)]
    alert = {label for label in runner.labels if label not in ignore}
    chosen = calibrate(streams, runner.labels, alert, floors, args.calibrate, persistence)
    lines = [f"# Thresholds calibrated for <= {args.calibrate:g} false alarms/h on folds {args.folds}", "",
             f"Detector per label: {'the persistence of ' + str(args.rules) + ' (below)' if args.rules else 'a single window'}.", "",
             "| label | persistence | clip-level floor | old threshold | new threshold | FA / h | event recall |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for label, (t, fa, recall) in chosen.items():
        kept = persistence.get(label)
        lines.append(f"| {label} | {kept.describe() if kept else '1 of 1'} | {floors[label]:.3f} "
                     f"| {runner.metadata.thresholds.get(label, 0.5):.3f} | {t:.3f} | {fa:.2f} | {recall:.3f} |")
    lines += persistence_table(compare_persistence(streams, runner.labels, alert, floors, args.calibrate), args.calibrate)
    path = runner.path
    write_thresholds(path, {label: t for label, (t, _, _) in chosen.items()})
    (args.report_dir / "calibration.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"thresholds written into {path}")
    return 0
