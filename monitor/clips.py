"""Evidence clips: each alert's audio, with pre-roll and post-roll, as FLAC in the state directory.

Takes the clip settings, a folder, each source's model-rate ring buffer (sample ``i``
is stream second ``i / rate``, so an alert's ``onset`` and ``stream_time`` index it
directly) and the predictions and alerts as they happen; gives the alerts back with
``clip_path`` set once their post-roll has arrived and the clip is written (or with
no clip when privacy or a fault forbids it), and keeps the folder within its age and
size limits.

A clip spans ``[onset - pre_seconds, stream_time + post_seconds]``, at most
``max_seconds`` (a long event keeps its start). Privacy: if any window overlapping
that span scored ``speech_threshold`` or more on a speech label, no clip is stored
unless the alert's rule is in ``speech_rules``. Files are written under a temporary
name and renamed, so a reader never sees half a clip.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import soundfile

from monitor.alerts import Alert
from monitor.config.schema import ClipsConfig
from monitor.predictions import Prediction
from monitor.private import create_private
from monitor.stream.ring import RingBuffer

log = logging.getLogger(__name__)

HISTORY_SLACK = 30.0  # seconds of window scores kept beyond the longest clip
PARTIAL = ".part"  # suffix of a clip being written
STALE_PARTIAL_SECONDS = 3600.0  # a partial clip this old is a leftover of a crash, not a write in progress


@dataclass(frozen=True)
class _Window:
    start: float
    end: float
    speech: float  # highest speech-label score (0 for a skipped window)


@dataclass(frozen=True)
class _Pending:
    alert: Alert
    start: float  # stream seconds
    end: float


class ClipRecorder:
    def __init__(
        self,
        settings: ClipsConfig,
        directory: Path,
        rings: Mapping[str, RingBuffer],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self._rings = rings
        self._clock = clock
        self._pending: list[_Pending] = []
        self._windows: dict[str, deque[_Window]] = {}
        self._latest: dict[str, float] = {}  # newest window end per source (stream seconds)
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)  # clips may hold private audio
        except OSError as exc:  # a full disk: alerts still go out, each logged as clip_failed
            log.warning("event=clips_unavailable path=%s reason=%r", directory, exc.strerror or str(exc))

    @staticmethod
    def history_seconds(settings: ClipsConfig) -> float:
        """Audio a source's ring buffer must hold for its clips to be complete."""
        return settings.max_seconds + 10.0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def holds(self, alert_id: str) -> bool:
        """True while the alert waits for its clip."""
        return any(item.alert.id == alert_id for item in self._pending)

    def observe(self, prediction: Prediction) -> None:
        """Note a window's speech score (call for every prediction, before :meth:`add`)."""
        speech = max((prediction.scores.get(label, 0.0) for label in self.settings.speech_labels), default=0.0)
        windows = self._windows.setdefault(prediction.source, deque())
        windows.append(_Window(prediction.start, prediction.end, speech))
        horizon = prediction.end - self.settings.max_seconds - self.settings.pre_seconds - HISTORY_SLACK
        while windows and windows[0].end < horizon:
            windows.popleft()
        self._latest[prediction.source] = max(self._latest.get(prediction.source, 0.0), prediction.end)

    def add(self, alert: Alert) -> None:
        """Hold ``alert`` until its post-roll has arrived."""
        s = self.settings
        start = max(0.0, alert.onset - s.pre_seconds)
        end = min(alert.stream_time + s.post_seconds, start + s.max_seconds)
        self._pending.append(_Pending(alert, start, end))

    def poll(self) -> list[Alert]:
        """Alerts whose clips are complete now (written, or refused), in the order they were added."""
        done, waiting = [], []
        for item in self._pending:
            if self._latest.get(item.alert.source, 0.0) >= item.end:
                done.append(self._finish(item))
            else:
                waiting.append(item)
        self._pending = waiting
        if done:
            self.prune()
        return done

    def flush(self) -> list[Alert]:
        """Shutdown or end of a source: finish every pending clip with the audio there is."""
        done = [self._finish(item) for item in self._pending]
        self._pending = []
        return done

    def _finish(self, item: _Pending) -> Alert:
        alert = item.alert
        speech = max((w.speech for w in self._windows.get(alert.source, ())
                      if w.start < item.end and w.end > item.start), default=0.0)  # fmt: skip
        if speech >= self.settings.speech_threshold and alert.rule not in self.settings.speech_rules:
            log.info("event=clip_skipped alert=%s rule=%s reason=speech score=%.2f", alert.id, alert.rule, speech)
            return alert
        ring = self._rings.get(alert.source)
        if ring is None:
            return alert
        rate = ring.sample_rate
        first = max(ring.start, round(item.start * rate))
        last = min(ring.end, round(item.end * rate))
        if last <= first:
            log.warning("event=clip_failed alert=%s reason=audio_no_longer_held", alert.id)
            return alert
        path = self.directory / clip_name(alert)
        partial = path.with_name(path.name + PARTIAL)
        try:
            samples = ring.read(first, last)
            create_private(partial).close()  # libsndfile keeps the mode of the file it truncates
            soundfile.write(str(partial), samples, rate, format="FLAC", subtype="PCM_16")
            os.replace(partial, path)
        except (OSError, IndexError, soundfile.LibsndfileError) as exc:
            log.warning("event=clip_failed alert=%s reason=%r", alert.id, str(exc)[:200])
            with contextlib.suppress(OSError):  # e.g. a full disk: no half clip stays behind
                partial.unlink(missing_ok=True)
            return alert
        log.info("event=clip_saved alert=%s path=%s seconds=%.2f", alert.id, path, (last - first) / rate)
        return replace(alert, clip_path=str(path))

    def prune(self) -> list[Path]:
        """Delete clips older than ``max_age_days``, then the oldest until the total fits ``max_total_mb``,
        and partial clips a crash left behind."""
        now = self._clock()
        clips = []
        for path in self.directory.glob("*.flac"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            clips.append((st.st_mtime, st.st_size, path))
        clips.sort()
        deleted = self._stale_partials(now)
        total = sum(size for _, size, _ in clips)
        limit = self.settings.max_total_mb * 1e6
        for index, (mtime, size, path) in enumerate(clips):
            too_old = now - mtime > self.settings.max_age_days * 86400
            too_big = total > limit and index < len(clips) - 1  # the newest clip always stays
            if not (too_old or too_big):
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            total -= size
            deleted.append(path)
        if deleted:
            log.info("event=clips_pruned count=%d remaining_mb=%.1f", len(deleted), total / 1e6)
        return deleted


    def _stale_partials(self, now: float) -> list[Path]:
        """Delete partial clips left by a crash or a failed write (never one being written now)."""
        deleted = []
        for path in self.directory.glob(f"*.flac{PARTIAL}"):
            try:
                if now - path.stat().st_mtime > STALE_PARTIAL_SECONDS:
                    path.unlink()
                    deleted.append(path)
            except FileNotFoundError:
                continue
        return deleted


def clip_name(alert: Alert) -> str:
    """``<UTC onset>_<source>_<rule>_<alert id>.flac``: sortable and unique."""
    stamp = datetime.fromtimestamp(alert.wall_time, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    rule = re.sub(r"[^A-Za-z0-9_-]+", "_", alert.rule)[:40]
    source = re.sub(r"[^A-Za-z0-9_-]+", "_", alert.source)[:40]
    return f"{stamp}_{source}_{rule}_{alert.id[:12]}.flac"
