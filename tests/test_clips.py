"""Evidence clips: the right stretch of audio around an alert, privacy for speech, retention by age and size."""

from __future__ import annotations

import os
import resource
import signal
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from monitor.alerts import Alert, Severity
from monitor.clips import ClipRecorder
from monitor.config.schema import ClipsConfig
from monitor.predictions import Prediction
from monitor.stream.ring import RingBuffer
from signals import rms_dbfs, tone

RATE = 22050
T0 = 1_700_000_000.0  # wall time of stream second 0


def alert(onset: float, fired: float, rule: str = "alarm", source: str = "room") -> Alert:
    return Alert(rule=rule, label="mid", labels=("mid",), score=0.9, severity=Severity.WARNING, mode="home",
                 source=source, onset=onset, stream_time=fired, wall_time=T0 + onset, message="m")  # fmt: skip


def stream(seconds: float, sound_from: float, sound_to: float) -> np.ndarray:
    """Near-silence with a 1-kHz tone in [sound_from, sound_to) stream seconds."""
    audio = np.zeros(int(seconds * RATE), np.float32) + np.float32(1e-4)
    a, b = int(sound_from * RATE), int(sound_to * RATE)
    audio[a:b] = tone(1000, sound_to - sound_from, RATE)[: b - a]
    return audio


def windows(recorder: ClipRecorder, until: float, speech: dict[float, float] | None = None, hop: float = 1.0) -> None:
    """Predictions for 5-s windows a hop apart ending up to ``until``; ``speech`` maps window starts to scores."""
    start = 0.0
    while start + 5.0 <= until + 1e-9:
        scores = {"mid": 0.1, "speech": (speech or {}).get(start, 0.0)}
        recorder.observe(Prediction("room", start, start + 5.0, T0 + start, -40.0, scores))
        start += hop


@pytest.fixture
def ring() -> RingBuffer:
    ring = RingBuffer(40 * RATE, RATE)
    ring.write(stream(30.0, 11.0, 14.0), T0)
    return ring


def test_a_clip_spans_pre_roll_to_post_roll_and_its_pre_roll_leads_into_the_onset(ring, tmp_path):
    recorder = ClipRecorder(ClipsConfig(enabled=True, pre_seconds=5, post_seconds=5), tmp_path, {"room": ring})
    windows(recorder, until=14.0)
    raised = alert(onset=10.0, fired=15.0)  # first triggering window 10-15 s
    recorder.add(raised)
    assert recorder.poll() == []  # the post-roll (to 20 s) has not arrived yet
    windows(recorder, until=20.0)
    (done,) = recorder.poll()
    assert done.clip_path is not None and Path(done.clip_path).parent == tmp_path
    audio, rate = soundfile.read(done.clip_path, dtype="float32")
    assert rate == RATE
    assert len(audio) / rate == pytest.approx(15.0, abs=0.01)  # 10 - 5 .. 15 + 5
    quarter = RATE // 4
    levels = [rms_dbfs(audio[i : i + quarter]) for i in range(0, len(audio) - quarter + 1, quarter)]
    loud = [i / 4 for i, level in enumerate(levels) if level > -30]
    # The sound starts 1 s after the onset: the clip has 6 s of lead-up, then the 3-s tone.
    assert loud[0] == pytest.approx(6.0, abs=0.25) and loud[-1] == pytest.approx(8.75, abs=0.25)
    assert max(levels[:20]) < -60  # the pre-roll before the onset is the quiet room
    assert replace(done, clip_path=None) == raised  # the same alert, with its clip's path


def test_a_long_event_keeps_its_start_up_to_max_seconds(ring, tmp_path):
    settings = ClipsConfig(enabled=True, pre_seconds=2, post_seconds=2, max_seconds=8)
    recorder = ClipRecorder(settings, tmp_path, {"room": ring})
    recorder.add(alert(onset=10.0, fired=25.0))
    windows(recorder, until=27.0)
    (done,) = recorder.poll()
    audio, _ = soundfile.read(done.clip_path)
    assert len(audio) / RATE == pytest.approx(8.0, abs=0.01)


def test_speech_in_any_window_of_the_clip_means_no_clip(ring, tmp_path):
    recorder = ClipRecorder(ClipsConfig(enabled=True), tmp_path, {"room": ring})
    windows(recorder, until=20.0, speech={13.0: 0.8})  # speech in the 13-18 s window, inside the clip
    recorder.add(alert(onset=10.0, fired=15.0))
    (done,) = recorder.poll()
    assert done.clip_path is None and list(tmp_path.iterdir()) == []


def test_speech_outside_the_clip_does_not_matter(ring, tmp_path):
    recorder = ClipRecorder(ClipsConfig(enabled=True), tmp_path, {"room": ring})
    windows(recorder, until=26.0, speech={0.0: 0.9, 21.0: 0.9})  # 0-5 s and 21-26 s: outside 5-20 s
    recorder.add(alert(onset=10.0, fired=15.0))
    (done,) = recorder.poll()
    assert done.clip_path is not None


def test_a_rule_allowed_to_keep_speech_gets_its_clip(ring, tmp_path):
    settings = ClipsConfig(enabled=True, speech_rules=("baby_cry",))
    recorder = ClipRecorder(settings, tmp_path, {"room": ring})
    windows(recorder, until=20.0, speech={12.0: 0.9})
    recorder.add(alert(onset=10.0, fired=15.0, rule="baby_cry"))
    recorder.add(alert(onset=10.0, fired=15.0, rule="alarm"))
    allowed, refused = recorder.poll()
    assert allowed.clip_path is not None and refused.clip_path is None


def test_flush_at_shutdown_writes_what_has_arrived(tmp_path):
    ring = RingBuffer(40 * RATE, RATE)
    ring.write(stream(17.0, 11.0, 14.0), T0)  # stopped 3 s into the post-roll
    recorder = ClipRecorder(ClipsConfig(enabled=True), tmp_path, {"room": ring})
    windows(recorder, until=17.0)
    recorder.add(alert(onset=10.0, fired=15.0))
    assert recorder.poll() == []
    (done,) = recorder.flush()
    audio, _ = soundfile.read(done.clip_path)
    assert len(audio) / RATE == pytest.approx(12.0, abs=0.01)  # 5 s .. 17 s
    assert recorder.pending == 0


def make_clip(directory: Path, name: str, megabytes: float, age_days: float, now: float) -> Path:
    path = directory / f"{name}.flac"
    path.write_bytes(b"\0" * int(megabytes * 1e6))
    os.utime(path, (now - age_days * 86400, now - age_days * 86400))
    return path


def test_retention_deletes_clips_past_their_age_and_then_the_oldest_until_they_fit(tmp_path):
    now = 1_800_000_000.0
    settings = ClipsConfig(enabled=True, max_age_days=30, max_total_mb=2.5)
    recorder = ClipRecorder(settings, tmp_path, {}, clock=lambda: now)
    ancient = make_clip(tmp_path, "ancient", 0.1, 40, now)
    oldest = make_clip(tmp_path, "oldest", 1.0, 5, now)
    older = make_clip(tmp_path, "older", 1.0, 4, now)
    newer = make_clip(tmp_path, "newer", 1.0, 3, now)
    newest = make_clip(tmp_path, "newest", 1.0, 1, now)
    other = tmp_path / "notes.txt"
    other.write_text("not a clip")
    deleted = recorder.prune()
    assert deleted == [ancient, oldest, older]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([newer.name, newest.name, other.name])


def test_the_newest_clip_stays_even_if_it_alone_is_over_the_limit(tmp_path):
    now = 1_800_000_000.0
    recorder = ClipRecorder(ClipsConfig(enabled=True, max_total_mb=1), tmp_path, {}, clock=lambda: now)
    make_clip(tmp_path, "old", 0.5, 2, now)
    big = make_clip(tmp_path, "big", 1.5, 1, now)
    recorder.prune()
    assert list(tmp_path.iterdir()) == [big]


def test_a_clip_that_cannot_be_written_leaves_no_partial_file(ring, tmp_path):
    recorder = ClipRecorder(ClipsConfig(enabled=True, pre_seconds=5, post_seconds=5), tmp_path, {"room": ring})
    windows(recorder, until=20.0)
    recorder.add(alert(onset=10.0, fired=15.0))
    # A file-size limit fails the write part-way, as a full disk does (EFBIG instead of ENOSPC).
    previous_signal = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    previous_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, previous_limit[1]))
    try:
        (done,) = recorder.poll()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous_limit)
        signal.signal(signal.SIGXFSZ, previous_signal)
    assert done.clip_path is None
    assert list(tmp_path.iterdir()) == []


def test_pruning_removes_partial_clips_a_crash_left_but_not_one_being_written(tmp_path):
    recorder = ClipRecorder(ClipsConfig(enabled=True), tmp_path, {}, clock=lambda: T0)
    stale, fresh = tmp_path / "a.flac.part", tmp_path / "b.flac.part"
    for path, age in ((stale, 7200), (fresh, 10)):
        path.write_bytes(b"fLaC")
        os.utime(path, (T0 - age, T0 - age))
    assert recorder.prune() == [stale]
    assert list(tmp_path.iterdir()) == [fresh]


def test_clips_and_their_folder_are_private_whatever_the_umask(ring, tmp_path):
    previous = os.umask(0o022)
    try:
        recorder = ClipRecorder(ClipsConfig(enabled=True, pre_seconds=5, post_seconds=5), tmp_path / "clips",
                                {"room": ring})  # fmt: skip
        windows(recorder, until=20.0)
        recorder.add(alert(onset=10.0, fired=15.0))
        (done,) = recorder.poll()
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "clips").stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(done.clip_path).stat().st_mode) == 0o600
