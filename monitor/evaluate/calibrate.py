"""Per-label thresholds for a false-alarm budget, from validation streams.

Takes annotated validation recordings (events inserted into background, see
:mod:`monitor.evaluate.mixtures`) and a model; runs them through the streaming
pipeline once, keeps every window's scores, and gives per label the lowest
threshold (not below a floor, e.g. the clip-level F1 threshold) at which a
detector raises at most ``max_per_hour`` false alarms per hour of background. The
detector alerts when the label's persistence is met: by default a single window at or
above the threshold; calibrated for a rules file, the persistence of the rule that
watches the label (e.g. 2 of the last 3 windows), so the thresholds fit the rules they
are used with. Then the thresholds can be written into the model file's metadata.
Comparing candidate persistences, each at its own calibrated threshold, shows which one
finds the most events within the budget (how the default rules were chosen).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from monitor.audio.open import open_source
from monitor.evaluate.events import Event, background_hours, read_annotations
from monitor.model.metadata import ModelMetadata
from monitor.model.runner import ModelRunner
from monitor.pipeline import Pipeline
from monitor.rules.schema import Persistence, RuleSet, SimpleRule

GRID = np.round(np.arange(0.2, 0.99, 0.01), 2)


@dataclass
class StreamScores:
    ends: np.ndarray  # window end times (s)
    scores: np.ndarray  # (windows, labels)
    events: list[Event]
    duration: float


def stream_scores(runner: ModelRunner, audio: Path, sidecar: Path, hop_seconds: float) -> StreamScores:
    source = open_source(str(audio), runner.metadata.features.sample_rate, realtime=False, source_id=audio.stem)
    ends, rows = [], []
    for p in Pipeline([source], runner, hop_seconds=hop_seconds).run():
        ends.append(p.end)
        rows.append([p.scores.get(label, 0.0) for label in runner.labels])
    return StreamScores(np.array(ends), np.array(rows).reshape(-1, len(runner.labels)), read_annotations(sidecar),
                        max(ends, default=0.0))


def persisting(scores: np.ndarray, ends: np.ndarray, threshold: float, persistence: Persistence) -> np.ndarray:
    """Per window: whether the persistence is met at it (as the rule engine counts evidence)."""
    active = scores >= threshold
    if persistence.duration is not None:
        # Consecutive detecting windows, from the end of the first to the end of this one.
        index = np.arange(len(active))
        run_start = np.maximum.accumulate(np.where(active, 0, index + 1))
        return active & (ends - ends[np.minimum(run_start, len(ends) - 1)] >= persistence.duration)
    if persistence.of == 1:
        return active
    counts = np.convolve(active.astype(np.int32), np.ones(persistence.of, np.int32))[: len(active)]
    return counts >= persistence.hits


def false_alarms(s: StreamScores, index: int, label: str, threshold: float,
                 persistence: Persistence = Persistence(), tolerance: float = 5.0) -> tuple[int, int]:
    """(false alarms, events detected) of a detector with this persistence on one stream."""
    active = persisting(s.scores[:, index], s.ends, threshold, persistence)
    rising = s.ends[active & ~np.concatenate([[False], active[:-1]])]
    mine = [e for e in s.events if e.label == label]
    fa = sum(1 for t in rising if not any(e.onset <= t <= e.offset + tolerance for e in mine))
    hits = sum(1 for e in mine if any(e.onset <= t <= e.offset + tolerance for t in rising))
    return fa, hits


def rule_persistence(rules: RuleSet) -> dict[str, Persistence]:
    """Label -> the most easily met persistence among the simple rules watching it: the threshold
    must keep even that rule within the budget."""
    def ease(p: Persistence) -> tuple[float, int, int]:
        return (p.duration or 0.0, p.hits, -p.of)

    out: dict[str, Persistence] = {}
    for rule in rules.rules:
        if isinstance(rule, SimpleRule):
            for label in rule.labels:
                if label not in out or ease(rule.persistence) < ease(out[label]):
                    out[label] = rule.persistence
    return out


def calibrate(streams: list[StreamScores], labels: tuple[str, ...], alert_labels: set[str],
              floors: dict[str, float], max_per_hour: float,
              persistence: dict[str, Persistence] | None = None) -> dict[str, tuple[float, float, float]]:
    """label -> (threshold, false alarms per hour, event recall) on the validation streams;
    ``persistence``: per label (default: a single window)."""
    hours = sum(background_hours(s.duration, s.events) for s in streams)
    out = {}
    for i, label in enumerate(labels):
        if label not in alert_labels:
            continue
        events = sum(1 for s in streams for e in s.events if e.label == label)
        kept = (persistence or {}).get(label, Persistence())
        for t in [g for g in GRID if g >= floors.get(label, 0.0)] or [GRID[-1]]:
            counts = [false_alarms(s, i, label, float(t), kept) for s in streams]
            fa, hits = sum(c[0] for c in counts), sum(c[1] for c in counts)
            if hours and fa / hours <= max_per_hour:
                break
        out[label] = (float(t), fa / hours if hours else 0.0, hits / events if events else 0.0)
    return out


CANDIDATES = (Persistence(1, 1), Persistence(2, 3), Persistence(2, 4), Persistence(3, 4), Persistence(3, 5), Persistence(4, 6))
# (persistence, threshold, false alarms per hour, event recall) of one candidate for one label
Candidate = tuple[Persistence, float, float, float]


def compare_persistence(streams: list[StreamScores], labels: tuple[str, ...], alert_labels: set[str],
                        floors: dict[str, float], max_per_hour: float,
                        candidates: tuple[Persistence, ...] = CANDIDATES) -> dict[str, list[Candidate]]:
    """label -> a :data:`Candidate` per persistence, each calibrated for the budget: the
    measurement a rules file's persistence is chosen from."""
    out: dict[str, list[Candidate]] = {label: [] for label in labels if label in alert_labels}
    for p in candidates:
        for label, (t, fa, recall) in calibrate(streams, labels, alert_labels, floors, max_per_hour,
                                                {label: p for label in labels}).items():
            out[label].append((p, t, fa, recall))
    return out


def persistence_table(compared: dict[str, list[Candidate]], budget: float) -> list[str]:
    """Markdown: per label, event recall and threshold of each candidate persistence at the budget."""
    candidates = [p for p, *_ in next(iter(compared.values()), [])]
    lines = ["", f"## Persistence: event recall (threshold) of each candidate at <= {budget:g} false alarms/h", "",
             "Choose a rule's persistence from this table (**bold**: the most events found within the budget; "
             "'over': no threshold keeps to it).", "",
             "| label | " + " | ".join(p.describe() for p in candidates) + " |",
             "|---|" + "---:|" * len(candidates)]
    for label, rows in compared.items():
        best = max((recall for _, _, fa, recall in rows if fa <= budget), default=None)

        def cell(t: float, fa: float, recall: float) -> str:
            if fa > budget:
                return f"over: {fa:.1f}/h at {t:.2f}"
            return f"**{recall:.2f}** ({t:.2f})" if recall == best else f"{recall:.2f} ({t:.2f})"

        lines.append(f"| {label} | " + " | ".join(cell(t, fa, recall) for _, t, fa, recall in rows) + " |")
    return lines


def write_thresholds(path: Path, thresholds: dict[str, float]) -> None:
    """Replace the ``thresholds`` metadata of an ONNX model file in place (every other key stays)."""
    runner = ModelRunner(path)
    md = runner.metadata
    merged = {**md.thresholds, **thresholds}
    value = ModelMetadata(md.labels, md.features, md.activation, merged, md.info).to_props()["thresholds"]
    model = onnx.load(str(path))
    entries = [e for e in model.metadata_props if e.key == "thresholds"]
    entry = entries[0] if entries else model.metadata_props.add()
    entry.key, entry.value = "thresholds", value
    tmp = path.with_suffix(".tmp.onnx")
    onnx.save(model, str(tmp))
    tmp.replace(path)
    ModelRunner(path)  # still loads and validates
