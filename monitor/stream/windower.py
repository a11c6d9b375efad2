"""Windower: decides where the sliding analysis windows of a stream fall.

Takes the feature parameters, a hop in seconds and the number of STFT frames
computed so far; gives :class:`WindowSpan` records for every window whose frames
are all available. Window starts sit on the STFT frame grid (so a window's
matrix can be assembled from cached frames) and are chosen as the frame nearest
to ``k * hop``, so over time windows come exactly ``hop`` apart on average.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.features.params import FeatureParams

MIN_HOP, MAX_HOP = 0.25, 5.0


@dataclass(frozen=True)
class WindowSpan:
    """Window ``index`` covers stream samples [start_sample, end_sample) and STFT frames from first_frame."""

    index: int
    first_frame: int
    start_sample: int
    end_sample: int
    sample_rate: int

    @property
    def start(self) -> float:
        """Seconds since the stream began."""
        return self.start_sample / self.sample_rate

    @property
    def end(self) -> float:
        return self.end_sample / self.sample_rate


def check_hop(hop_seconds: float) -> float:
    if not MIN_HOP <= hop_seconds <= MAX_HOP:
        raise ValueError(f"hop {hop_seconds:g} s is outside {MIN_HOP}..{MAX_HOP} s")
    return hop_seconds


class Windower:
    def __init__(self, params: FeatureParams, hop_seconds: float = 1.0) -> None:
        self.params = params
        self.hop_seconds = check_hop(hop_seconds)
        self.next_index = 0

    def first_frame(self, index: int) -> int:
        return round(index * self.hop_seconds * self.params.sample_rate / self.params.hop_length)

    def ready(self, frames_done: int) -> list[WindowSpan]:
        """Windows not yet emitted whose frames are all among the first ``frames_done``."""
        spans = []
        p = self.params
        while (first := self.first_frame(self.next_index)) + p.n_frames <= frames_done:
            start = first * p.hop_length
            spans.append(WindowSpan(self.next_index, first, start, start + p.window_samples, p.sample_rate))
            self.next_index += 1
        return spans
