"""Event-level evaluation of a model on long annotated recordings.

Takes a folder of recordings, each with a ``<name>.csv`` sidecar of
``onset_s,offset_s,label[,ebr_db]`` rows, and a model; runs the offline detector
over each recording and gives an :class:`EventReport`: per-label event recall
(overall and per event-to-background ratio), false alarms per hour of background
and onset-to-alert latency, rendered as markdown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.errors import UserError
from monitor.evaluate.detect import detections, window_scores
from monitor.evaluate.events import LabelResult, background_hours, match, merge, read_annotations
from monitor.model.runner import ModelRunner
from monitor.train.cache import read_mono
from monitor.train.dataset import AUDIO_EXTENSIONS


@dataclass
class EventReport:
    results: dict[str, LabelResult]
    recall_by_ebr: dict[str, dict[float, tuple[int, int]]]  # label -> ebr -> (detected, events)
    hours: float  # background hours
    recordings: int
    hop_seconds: float
    alert_labels: tuple[str, ...]

    def false_alarms_per_hour(self, label: str | None = None) -> float:
        fa = sum(r.false_alarms for k, r in self.results.items() if label in (None, k))
        return fa / self.hours if self.hours else 0.0

    def markdown(self) -> str:
        ebrs = sorted({e for per in self.recall_by_ebr.values() for e in per})
        lines = [
            f"### Event level: {self.recordings} recordings, {self.hours:.2f} h of background, hop {self.hop_seconds:g} s",
            "",
            f"False alarms: **{self.false_alarms_per_hour():.2f} per hour** over all alert labels "
            f"({sum(r.false_alarms for r in self.results.values())} in total).",
            "",
            "| label | events | recall | " + " | ".join(f"recall @ {e:+g} dB" for e in ebrs)
            + " | false alarms | FA / h | median latency (s) |",
            "|---|---:|---:|" + "---:|" * len(ebrs) + "---:|---:|---:|",
        ]
        for label in sorted(self.results):
            r = self.results[label]
            per = self.recall_by_ebr.get(label, {})
            cells = [f"{per[e][0] / per[e][1]:.2f} ({per[e][1]})" if e in per and per[e][1] else "-" for e in ebrs]
            lat = r.median_latency
            lines.append(
                f"| {label} | {r.events} | {r.recall:.3f} | " + " | ".join(cells)
                + f" | {r.false_alarms} | {self.false_alarms_per_hour(label):.2f} | {'-' if lat is None else f'{lat:.2f}'} |"
            )
        lines += ["", "An event counts as detected if an alert of its label is raised between its onset and 5 s after "
                  "its offset; latency = alert time (end of the first window over the threshold) - onset.", ""]
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


def evaluate_streams(runner: ModelRunner, folder: Path, hop_seconds: float, ignore: set[str], log=print) -> EventReport:
    alert_labels = tuple(label for label in runner.labels if label not in ignore)
    thresholds = runner.metadata.thresholds
    parts, hours = [], 0.0
    by_ebr: dict[str, dict[float, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    pairs = find_recordings(folder)
    for n, (audio, sidecar) in enumerate(pairs, 1):
        events = read_annotations(sidecar)
        try:
            samples = read_mono(audio, runner.metadata.features.sample_rate)
        except ValueError as exc:
            raise UserError(f"{audio}: {exc}") from None
        ends, scores = window_scores(runner, samples, hop_seconds)
        found = detections(ends, scores, runner.labels, thresholds, set(alert_labels))
        result, hit = match(events, found)
        parts.append(result)
        for e, h in zip(events, hit):
            if e.ebr_db is not None:
                cell = by_ebr[e.label][e.ebr_db]
                cell[0] += int(h)
                cell[1] += 1
        hours += background_hours(len(samples) / runner.metadata.features.sample_rate, events)
        if n % 20 == 0 or n == len(pairs):
            log(f"scored {n}/{len(pairs)} recordings")
    results = merge(parts)
    for label in alert_labels:
        results.setdefault(label, LabelResult(label))
    return EventReport(
        results={k: v for k, v in results.items()},
        recall_by_ebr={k: {e: (c[0], c[1]) for e, c in v.items()} for k, v in by_ebr.items()},
        hours=hours, recordings=len(pairs), hop_seconds=hop_seconds, alert_labels=alert_labels,
    )


def latency_summary(report: EventReport) -> float | None:
    lat = [x for r in report.results.values() for x in r.latencies]
    return float(np.median(lat)) if lat else None
