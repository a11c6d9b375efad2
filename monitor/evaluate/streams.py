"""Event-level evaluation of the monitor on long annotated recordings.

Takes a folder of recordings, each with a ``<name>.csv`` sidecar of
``onset_s,offset_s,label[,ebr_db]`` rows, a model and a rule set; runs each
recording through the real streaming pipeline (file source, windows every hop,
batched model) and the rule engine, and gives an :class:`EventReport`: per-label
event recall (overall and per event-to-background ratio), false alarms per hour
of background, onset-to-alert latency (alert stream time - event onset) and onset
error (the alert's estimated onset - event onset).
Without a rules file, every alert label gets a plain rule (the model's threshold,
1 window of 1, no cooldown), which measures the detector itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.alerts import Alert
from monitor.audio.open import open_source
from monitor.errors import UserError
from monitor.evaluate.events import (
    ONSET_TOLERANCE, Detection, LabelResult, background_hours, match, merge, read_annotations,
)
from monitor.model.runner import ModelRunner
from monitor.pipeline import Pipeline
from monitor.rules.engine import Engine
from monitor.rules.loader import parse_rules
from monitor.rules.schema import RuleSet
from monitor.train.dataset import AUDIO_EXTENSIONS


@dataclass
class EventReport:
    results: dict[str, LabelResult]
    recall_by_ebr: dict[str, dict[float, tuple[int, int]]]  # label -> ebr -> (detected, events)
    hours: float  # background hours
    recordings: int
    hop_seconds: float
    alert_labels: tuple[str, ...]
    rules: str

    def false_alarms_per_hour(self, label: str | None = None) -> float:
        fa = sum(r.false_alarms for k, r in self.results.items() if label in (None, k))
        return fa / self.hours if self.hours else 0.0

    def markdown(self) -> str:
        ebrs = sorted({e for per in self.recall_by_ebr.values() for e in per})
        lines = [
            f"### Event level: {self.recordings} recordings, {self.hours:.2f} h of background, hop {self.hop_seconds:g} s",
            "",
            f"Rules: {self.rules}.",
            "",
            f"False alarms: **{self.false_alarms_per_hour():.2f} per hour** over all alert labels "
            f"({sum(r.false_alarms for r in self.results.values())} in total).",
            "",
            "| label | events | recall | " + " | ".join(f"recall @ {e:+g} dB" for e in ebrs)
            + " | false alarms | FA / h | median latency (s) | median onset error (s) | onset within ±0.5 s |",
            "|---|---:|---:|" + "---:|" * len(ebrs) + "---:|---:|---:|---:|---:|",
        ]
        for label in sorted(self.results):
            r = self.results[label]
            per = self.recall_by_ebr.get(label, {})
            cells = [f"{per[e][0] / per[e][1]:.2f} ({per[e][1]})" if e in per and per[e][1] else "-" for e in ebrs]
            lat, err, within = r.median_latency, r.median_onset_error, r.onsets_within
            lines.append(
                f"| {label} | {r.events} | {r.recall:.3f} | " + " | ".join(cells)
                + f" | {r.false_alarms} | {self.false_alarms_per_hour(label):.2f} | {_cell(lat, '.2f')}"
                + f" | {_cell(err, '+.2f')} | {_cell(within, '.2f')} |"
            )
        errors = [x for r in self.results.values() for x in r.onset_errors]
        if errors:
            lines += ["", f"Onset error over all detected events: median **{np.median(errors):+.2f} s**, "
                      f"median absolute {np.median(np.abs(errors)):.2f} s, "
                      f"**{np.mean(np.abs(errors) <= ONSET_TOLERANCE):.2f}** within ±{ONSET_TOLERANCE:g} s "
                      f"({len(errors)} events)."]
        lines += ["", "An event counts as detected if an alert of its label is raised between its onset and 5 s after "
                  "its offset; latency = alert stream time - onset; onset error = the alert's estimated onset - the "
                  "annotated onset. Every other alert is a false alarm.", ""]
        return "\n".join(lines)


def find_recordings(folder: Path) -> list[tuple[Path, Path]]:
    if not folder.is_dir():
        raise UserError(f"--streams {folder}: not a folder")
    pairs = []
    for audio in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS):
        sidecar = audio.with_suffix(".csv")
        if sidecar.is_file():
            pairs.append((audio, sidecar))
    if not pairs:
        raise UserError(f"--streams {folder}: no recordings with a <name>.csv sidecar (onset_s,offset_s,label) found")
    return pairs


def detection_rules(labels: tuple[str, ...], alert_labels: tuple[str, ...], thresholds: dict[str, float]) -> RuleSet:
    """One plain rule per alert label: the model's threshold, one window, no cooldown."""
    lines = ["version: 1", "mode: away", "rules:"]
    for label in alert_labels:
        lines += [f"  - name: detect_{label}", f"    sound: {label}", "    cooldown: 0s", "    clear_after: 2s",
                  f"    message: \"{label}\""]
    return parse_rules("\n".join(lines) + "\n", "<evaluation rules>", labels, thresholds)


def run_recording(runner: ModelRunner, audio: Path, rules: RuleSet, hop_seconds: float, mode: str) -> tuple[list[Detection], float]:
    """Alerts of one recording through the pipeline and the rule engine, and its duration in seconds."""
    source = open_source(str(audio), runner.metadata.features.sample_rate, realtime=False, source_id=audio.stem)
    engine = Engine(rules)
    engine.set_mode(mode, hold=True)
    pipeline = Pipeline([source], runner, hop_seconds=hop_seconds, gate_dbfs=engine.min_gate_dbfs)
    found, end = [], 0.0
    for prediction in pipeline.run():
        end = max(end, prediction.end)
        found += [Detection(e.label, e.stream_time, e.onset) for e in engine.process(prediction) if isinstance(e, Alert)]
    engine.finish(source.id)
    return found, end


def evaluate_streams(
    runner: ModelRunner, folder: Path, hop_seconds: float, ignore: set[str],
    rules: RuleSet | None = None, mode: str = "away", log=print,
) -> EventReport:
    alert_labels = tuple(label for label in runner.labels if label not in ignore)
    described = f"{rules.path} in {mode} mode" if rules else (
        "one rule per alert label (model threshold, 1 of 1 windows, no cooldown)")
    rules = rules or detection_rules(runner.labels, alert_labels, runner.metadata.thresholds)
    parts, hours = [], 0.0
    by_ebr: dict[str, dict[float, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    pairs = find_recordings(folder)
    for n, (audio, sidecar) in enumerate(pairs, 1):
        events = read_annotations(sidecar)
        found, duration = run_recording(runner, audio, rules, hop_seconds, mode)
        result, hit = match(events, found)
        parts.append(result)
        for e, h in zip(events, hit):
            if e.ebr_db is not None:
                cell = by_ebr[e.label][e.ebr_db]
                cell[0] += int(h)
                cell[1] += 1
        hours += background_hours(duration, events)
        if n % 20 == 0 or n == len(pairs):
            log(f"scored {n}/{len(pairs)} recordings")
    results = merge(parts)
    for label in alert_labels:
        results.setdefault(label, LabelResult(label))
    return EventReport(
        results=dict(results),
        recall_by_ebr={k: {e: (c[0], c[1]) for e, c in v.items()} for k, v in by_ebr.items()},
        hours=hours, recordings=len(pairs), hop_seconds=hop_seconds, alert_labels=alert_labels, rules=described,
    )


def latency_summary(report: EventReport) -> float | None:
    lat = [x for r in report.results.values() for x in r.latencies]
    return float(np.median(lat)) if lat else None


def onset_summary(report: EventReport) -> tuple[float, float] | None:
    """(median onset error, share within ±ONSET_TOLERANCE) over all detected events, or None."""
    errors = [x for r in report.results.values() for x in r.onset_errors]
    if not errors:
        return None
    return float(np.median(errors)), float(np.mean(np.abs(errors) <= ONSET_TOLERANCE))


def _cell(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
