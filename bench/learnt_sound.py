"""Learnt sounds against the issue-12 targets: event recall, false alarms, learn time, run-time cost.

Takes a model with an embedding, the shared data set and a held-out source class (one the
model has no label of its own for, e.g. clapping); learns it from ``--examples`` clips of
folds 1-3 and 5 (with a background bank built from the same folds, the class left out),
then builds synthetic streams from test fold 4 only: the class's clips at -6/0/+6 dB and
distractor events of other classes in background clips without the class. Every stream
runs through the real pipeline with one rule on the learnt sound (its threshold, 1 of 1
windows); prints recall per EBR, false alarms per hour, learn seconds (one core) and
the per-window cost of the learnt sound's scoring.

    python bench/learnt_sound.py --model FILE --data ../shared/datasets/homesounds --sound clapping
"""

from __future__ import annotations

import _common  # noqa: F401  (sets OPENBLAS_NUM_THREADS and the path first)

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from monitor.evaluate.mixtures import build_mixtures
from monitor.evaluate.streams import evaluate_streams
from monitor.model.runner import ModelRunner
from monitor.sounds.bank import TEST_FOLD, read_background_bank, write_background_bank
from monitor.sounds.learn import learn
from monitor.sounds.model import SoundModel
from monitor.train.dataset import load_dataset
from monitor.train.labelmap import load_label_map

DISTRACTORS = ("door_knock", "footsteps", "speech", "dog_bark", "glass_breaking", "coughing", "laughing",
               "door_creak_or_slam", "smoke_alarm_or_beeping_alarm", "baby_cry", "keyboard_typing", "cat",
               "clapping", "vacuum_cleaner", "water_running", "kitchen_sounds")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path("/work/shared/datasets/homesounds"))
    p.add_argument("--sound", default="clapping", help="held-out source label to learn")
    p.add_argument("--examples", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="keep the model copy and streams here")
    args = p.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="learnt-sound-"))
    work.mkdir(parents=True, exist_ok=True)
    model = work / "model.onnx"
    shutil.copy(args.model, model)
    write_background_bank(model, args.data, exclude=(args.sound,))
    runner = ModelRunner(model)
    dataset = load_dataset(args.data, load_label_map(None))
    rng = np.random.default_rng(args.seed)
    train = [c for c in dataset.clips if c.source_label == args.sound and c.fold != TEST_FOLD]
    test = [c for c in dataset.clips if c.source_label == args.sound and c.fold == TEST_FOLD]
    picks = [train[i].path for i in sorted(rng.permutation(len(train))[: args.examples])]

    t0 = time.process_time()
    learnt = learn(runner, args.sound, picks, [], read_background_bank(runner), seed=args.seed)
    learn_cpu = time.process_time() - t0
    print(f"learnt {args.sound} from {len(learnt.used)} examples ({len(learnt.skipped)} skipped) in "
          f"{learn_cpu:.1f} s CPU: LOO recall {learnt.loo_recall:.2f}, est. FA/h {learnt.false_alarms_per_hour:.2f}, "
          f"threshold {learnt.sound.threshold:.3f}")
    for s in learnt.skipped:
        print(f"  skipped {s.path.name}: {s.reason}")

    others = [c for c in dataset.clips if c.fold == TEST_FOLD and c.source_label in DISTRACTORS
              and c.source_label != args.sound]
    distract = others  # every distractor of the test fold: more background hours for the false-alarm count
    events = [(c.path, args.sound) for c in test] + [(c.path, c.source_label) for c in distract]
    backgrounds = [c.path for c in dataset.clips if c.fold == TEST_FOLD and c.source_label != args.sound
                   and c.label in ("household", "outdoor_traffic_tools", "music_tv")]
    streams = work / "streams"
    shutil.rmtree(streams, ignore_errors=True)
    build_mixtures(events, backgrounds, streams, runner.metadata.features.sample_rate, seed=args.seed)
    model_with = SoundModel(runner, [learnt.sound])
    report = evaluate_streams(model_with, streams, 1.0, ignore=set(runner.labels), log=lambda m: None)  # type: ignore[arg-type]
    result = report.results[args.sound]
    per = report.recall_by_ebr.get(args.sound, {})
    at0 = [per[e] for e in per if e >= 0]
    recall0 = sum(d for d, _ in at0) / max(1, sum(n for _, n in at0))
    print(report.markdown())

    batch = np.random.default_rng(1).standard_normal((1000, runner.embedding_size or 1)).astype(np.float32)
    t0 = time.perf_counter()
    for _ in range(20):
        learnt.sound.scores(batch)
    per_window_ms = (time.perf_counter() - t0) / 20 / len(batch) * 1000
    print(f"sound={args.sound} examples={len(learnt.used)} recall={result.recall:.3f} recall_ebr_ge0={recall0:.3f} "
          f"fa_per_hour={report.false_alarms_per_hour(args.sound):.2f} background_hours={report.hours:.2f} "
          f"learn_cpu_s={learn_cpu:.1f} per_window_ms={per_window_ms:.5f}")


if __name__ == "__main__":
    main()
