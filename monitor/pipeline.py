"""The streaming pipeline: sources -> windows -> features -> batched model -> predictions.

Takes audio sources, a :class:`~monitor.model.runner.ModelRunner` and a hop; gives
an iterator of :class:`~monitor.predictions.Prediction`, one per window per
source, in the order the windows complete. All sources share one model session:
each round of the loop collects the windows every source completed and runs them
through the model in one batch. Windows quieter than ``gate_dbfs`` skip inference
(a quiet room costs almost nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from monitor.audio.source import AudioSource, SourceStats
from monitor.model.runner import ModelRunner
from monitor.predictions import Prediction
from monitor.stream.source_stream import SourceStream, WindowData

log = logging.getLogger(__name__)

# Idle wait when no source has data. Live sources deliver audio in real time, so the loop
# sleeps until the earliest next window's audio can have arrived, then polls every
# POLL_SECONDS until it has: a live source's cost is per wake-up (bench/README.md,
# profile), and this wakes a few times per hop instead of 20 times a second, for at most
# 50 ms more onset-to-alert latency. MAX_IDLE_SECONDS bounds one wait well within what
# the sources buffer (microphone 10 s, ffmpeg 30 s) and the daemon's watchdog freshness.
POLL_SECONDS = 0.05
MAX_IDLE_SECONDS = 1.0
# Windows per model call. Small batches are faster per window for the shipped model on a
# small CPU (activations of a big batch fall out of cache): 4 carries ~15 % more sources
# per core than 64 (bench/options.py, bench/README.md), and still amortises the call.
MAX_BATCH = 4
ROUND_SECONDS = 1.0


@dataclass(frozen=True)
class PipelineStats:
    windows: int
    inferred: int
    inference_seconds: float
    sources: dict[str, SourceStats]
    invalid_scores: int = 0  # windows whose model scores were NaN or inf (treated as not analysed)
    model_ok: bool = True  # False while the latest inferred window's scores were not finite


class Pipeline:
    def __init__(
        self,
        sources: Sequence[AudioSource],
        model: ModelRunner,
        hop_seconds: float = 1.0,
        gate_dbfs: float | None = None,
        history_seconds: float = 15.0,
    ) -> None:
        ids = [s.id for s in sources]
        if len(set(ids)) != len(ids):
            raise ValueError(f"source ids must be unique, got {ids}")
        self.sources = list(sources)
        self._recording = {s.id: s.recording for s in sources}
        self.model = model
        self.gate_dbfs = gate_dbfs
        params = model.metadata.features
        self.streams = {
            s.id: SourceStream(s.id, s.sample_rate, params, hop_seconds, history_seconds) for s in sources
        }
        self.ended: list[str] = []  # sources whose last prediction has been given, in the order they ended
        self._stop = threading.Event()
        self._windows = 0
        self._inferred = 0
        self._inference_seconds = 0.0
        self._invalid = 0
        self._model_ok = True

    def stop(self) -> None:
        """Ask :meth:`run` to finish (thread-safe); it stops the sources on the way out."""
        self._stop.set()

    def stats(self) -> PipelineStats:
        return PipelineStats(self._windows, self._inferred, self._inference_seconds,
                             {s.id: s.stats() for s in self.sources}, self._invalid, self._model_ok)

    def run(self) -> Iterator[Prediction]:
        """Predictions until every source has finished or :meth:`stop` is called."""
        started: list[AudioSource] = []
        try:
            for source in self.sources:
                source.start()
                started.append(source)
            yield from self._loop()
        finally:
            for source in started:
                source.stop()

    def _loop(self) -> Iterator[Prediction]:
        active = list(self.sources)
        while active and not self._stop.is_set():
            ready: list[WindowData] = []
            ended: list[str] = []
            more = False  # a source may have more audio waiting now, or has just ended
            for source in list(active):
                stream = self.streams[source.id]
                # Up to ROUND_SECONDS of audio per source per round: live sources catch up
                # on everything that arrived, while files read as fast as possible cannot
                # hog the round (or memory) and every source gets its turn.
                taken, limit = 0, ROUND_SECONDS * source.sample_rate
                while taken < limit and (block := source.read()) is not None:
                    ready += stream.push(block)
                    taken += len(block.samples)
                more = more or taken >= limit or source.finished
                if taken == 0 and source.finished:
                    ready += stream.finish()
                    if stream.done:
                        active.remove(source)
                        ended.append(source.id)
            if ready:
                yield from self._predict(ready)
            self.ended += ended
            if not ready and not more and active:
                self._stop.wait(self._idle_seconds(active))

    def _idle_seconds(self, active: list[AudioSource]) -> float:
        due = min(self.streams[s.id].seconds_to_next_window() for s in active)
        return min(MAX_IDLE_SECONDS, max(POLL_SECONDS, due))

    def _finite(self, window: WindowData, row: np.ndarray) -> bool:
        """Whether a window's scores are usable. NaN or inf (a broken model or front end) would
        silently match no rule: the window counts as not analysed, and the error is logged when it
        starts (and again whenever it comes back after good windows)."""
        ok = bool(np.isfinite(row).all())
        if not ok:
            self._invalid += 1
            if self._model_ok:
                log.error("%s: the model gave NaN or inf scores for the window at %.1f s; such windows are "
                          "not analysed (check the model's metadata or retrain it)", window.source, window.span.start)
        self._model_ok = ok
        return ok

    def _predict(self, windows: list[WindowData]) -> Iterator[Prediction]:
        self._windows += len(windows)
        loud = [w for w in windows if self.gate_dbfs is None or w.level_dbfs >= self.gate_dbfs]
        scores: dict[int, np.ndarray] = {}
        for offset in range(0, len(loud), MAX_BATCH):
            batch = loud[offset : offset + MAX_BATCH]
            matrices = np.stack([self.streams[w.source].matrix(w) for w in batch])
            t0 = time.perf_counter()
            out = self.model.predict(matrices)
            self._inference_seconds += time.perf_counter() - t0
            for w, row in zip(batch, out):
                if self._finite(w, row):
                    scores[id(w)] = row
        self._inferred += len(loud)
        labels = self.model.labels
        for w in windows:
            row = scores.get(id(w))
            yield Prediction(
                source=w.source,
                start=w.span.start,
                end=w.span.end,
                wall_time=w.wall_time,
                level_dbfs=w.level_dbfs,
                scores={} if row is None else dict(zip(labels, map(float, row))),
                skipped=row is None,
                recording=self._recording[w.source],
                envelope=w.envelope,
            )
