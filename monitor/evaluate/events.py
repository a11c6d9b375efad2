"""Event-level scoring of detections against annotated events (DCASE 2017 task 2 style).

Takes reference events (onset, offset, label) and detections (label, time the alert
was raised, the alert's estimated onset); gives per-label event recall, false alarms
per hour, onset-to-alert latency and onset error. A detection matches a reference event of the same label
if it is raised between the event's onset and its offset plus ``tolerance``
seconds (the window still holds the event for a while after it ends); each
reference event is matched at most once, by its earliest detection. Every other
detection of a label is a false alarm. Latency = alert time - onset; onset error =
the alert's estimated onset - the annotated onset.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.errors import UserError


@dataclass(frozen=True)
class Event:
    onset: float
    offset: float
    label: str
    ebr_db: float | None = None  # event-to-background ratio, known for synthetic mixtures


# An estimated onset this close to the annotated one places the event (issue 11's target).
ONSET_TOLERANCE = 0.5


@dataclass(frozen=True)
class Detection:
    label: str
    time: float  # stream time at which the alert was raised
    onset: float | None = None  # the alert's estimated onset (stream time), when it has one


@dataclass
class LabelResult:
    label: str
    events: int = 0
    detected: int = 0
    false_alarms: int = 0
    latencies: list[float] = field(default_factory=list)
    onset_errors: list[float] = field(default_factory=list)  # estimated - annotated onset, per detected event

    @property
    def recall(self) -> float:
        return self.detected / self.events if self.events else 0.0

    @property
    def median_latency(self) -> float | None:
        return float(np.median(self.latencies)) if self.latencies else None

    @property
    def median_onset_error(self) -> float | None:
        return float(np.median(self.onset_errors)) if self.onset_errors else None

    @property
    def onsets_within(self) -> float | None:
        """Share of detected events whose estimated onset is within ONSET_TOLERANCE of the annotated one."""
        if not self.onset_errors:
            return None
        return float(np.mean(np.abs(self.onset_errors) <= ONSET_TOLERANCE))


def match(events: list[Event], detections: list[Detection], tolerance: float = 5.0) -> tuple[dict[str, LabelResult], list[bool]]:
    """Per-label matching of one recording's detections to its reference events.

    Returns the per-label results and, for each reference event, whether it was detected.
    """
    results: dict[str, LabelResult] = defaultdict(lambda: LabelResult(""))
    for e in events:
        results[e.label].events += 1
    matched: set[int] = set()
    for d in sorted(detections, key=lambda d: d.time):
        hit = next(
            (i for i, e in enumerate(events)
             if i not in matched and e.label == d.label and e.onset <= d.time <= e.offset + tolerance),
            None,
        )
        if hit is None:
            # A repeat alert during an event already matched is not a new false alarm.
            if any(e.label == d.label and e.onset <= d.time <= e.offset + tolerance for e in events):
                continue
            results[d.label].false_alarms += 1
        else:
            matched.add(hit)
            results[d.label].detected += 1
            results[d.label].latencies.append(d.time - events[hit].onset)
            if d.onset is not None:
                results[d.label].onset_errors.append(d.onset - events[hit].onset)
    out = {}
    for label, r in results.items():
        r.label = label
        out[label] = r
    return out, [i in matched for i in range(len(events))]


def merge(parts: list[dict[str, LabelResult]]) -> dict[str, LabelResult]:
    """Sum per-label results over several recordings."""
    total: dict[str, LabelResult] = {}
    for part in parts:
        for label, r in part.items():
            t = total.setdefault(label, LabelResult(label))
            t.events += r.events
            t.detected += r.detected
            t.false_alarms += r.false_alarms
            t.latencies += r.latencies
            t.onset_errors += r.onset_errors
    return total


def background_hours(duration: float, events: list[Event]) -> float:
    """Hours of a recording outside its annotated events (the time false alarms can happen in)."""
    covered = 0.0
    end = 0.0
    for e in sorted(events, key=lambda e: e.onset):
        start, stop = max(e.onset, end), min(e.offset, duration)
        if stop > start:
            covered += stop - start
        end = max(end, e.offset)
    return max(0.0, duration - covered) / 3600.0


def read_annotations(path: Path) -> list[Event]:
    """A sidecar CSV of ``onset_s,offset_s,label[,ebr_db]`` rows (a header line is optional)."""
    events = []
    with path.open(newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or row[0].strip().startswith("#"):
                continue
            if n == 1 and row[0].strip() == "onset_s":
                continue
            if len(row) < 3:
                raise UserError(f"{path}:{n}: expected 'onset_s,offset_s,label', got {','.join(row)!r}")
            try:
                onset, offset = float(row[0]), float(row[1])
            except ValueError:
                raise UserError(f"{path}:{n}: onset/offset must be numbers (got {row[0]!r}, {row[1]!r})") from None
            label = row[2].strip()
            if offset < onset or onset < 0 or not label:
                raise UserError(f"{path}:{n}: need 0 <= onset <= offset and a label (got {row!r})")
            ebr = None
            if len(row) > 3 and row[3].strip():
                try:
                    ebr = float(row[3])
                except ValueError:
                    raise UserError(f"{path}:{n}: the optional 4th column (ebr_db) must be a number") from None
            events.append(Event(onset, offset, label, ebr))
    return events


def write_annotations(path: Path, events: list[Event]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        with_ebr = any(e.ebr_db is not None for e in events)
        w.writerow(["onset_s", "offset_s", "label"] + (["ebr_db"] if with_ebr else []))
        for e in events:
            row = [f"{e.onset:.3f}", f"{e.offset:.3f}", e.label]
            w.writerow(row + ([f"{e.ebr_db:g}" if e.ebr_db is not None else ""] if with_ebr else []))
