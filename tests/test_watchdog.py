"""When the processing loop pings the watchdog: fresh windows, ended sources and handled outages only."""

from __future__ import annotations

import numpy as np

from monitor.audio.source import AudioBlock, AudioSource, ObservedSource, SourceStats
from monitor.daemon.health import HealthTracker, status_line
from monitor.daemon.sdnotify import Notifier
from monitor.daemon.watchdog import LoopWatchdog
from monitor.pipeline import PipelineStats
from notify_socket import NotifySocket


class Scripted(AudioSource):
    """A source whose health and end the test sets."""

    def __init__(self, source_id: str) -> None:
        super().__init__(source_id, 16000, 1)
        self.ok, self.done, self.reads = True, False, 0

    def start(self) -> None:
        pass

    def read(self) -> AudioBlock | None:
        self.reads += 1
        return AudioBlock(np.zeros((160, 1), np.float32), 0.0)

    @property
    def finished(self) -> bool:
        return self.done

    def stop(self) -> None:
        pass

    def stats(self) -> SourceStats:
        return SourceStats(self.ok, "fine" if self.ok else "no audio: unplugged")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pings_over(sock: NotifySocket, watchdog: LoopWatchdog, clock: Clock, seconds: float, windows: list[str] = ()) -> int:
    """Run the loop's heartbeat every 0.1 s of (fake) time; the pings that reached the socket."""
    for _ in range(int(seconds * 10)):
        clock.now += 0.1
        for source in windows:
            watchdog.window(source)
        watchdog.beat()
    return sum(m.fields == {"WATCHDOG": "1"} for m in sock.poll(0.2))


def make(tmp_path, *ids: str):
    sock = NotifySocket(tmp_path / "notify")
    notifier = Notifier(sock.address, watchdog_seconds=2.0)
    sources = [Scripted(i) for i in ids]
    clock = Clock()
    return sock, sources, LoopWatchdog(notifier, sources, fresh_seconds=2.0, clock=clock), clock


def test_pings_while_every_source_produces_windows_and_stop_when_one_goes_quiet(tmp_path):
    sock, sources, watchdog, clock = make(tmp_path, "a", "b")
    assert pings_over(sock, watchdog, clock, 4.0, windows=["a", "b"]) == 4  # half the 2-s timeout apart
    assert pings_over(sock, watchdog, clock, 6.0, windows=["a"]) == 1  # b's last window stays fresh 2 s
    sock.close()


def test_a_reported_outage_or_an_ended_source_does_not_stop_the_pings(tmp_path):
    sock, (mic, file), watchdog, clock = make(tmp_path, "mic", "file")
    mic.ok = False  # unplugged: reported in health, being reopened by the source itself
    file.done = True
    assert pings_over(sock, watchdog, clock, 4.0) == 4
    mic.ok = True  # says it is fine, yet delivers no windows: a hang
    assert pings_over(sock, watchdog, clock, 4.0) == 0
    sock.close()


def test_the_heartbeat_is_the_processing_loop_reading(tmp_path):
    sock, (source,), watchdog, clock = make(tmp_path, "a")
    watchdog.window("a")
    wrapped = ObservedSource(source, watchdog.beat)
    assert (wrapped.id, wrapped.sample_rate) == ("a", 16000)
    assert wrapped.read() is not None and source.reads == 1
    sock.poll(0.2)
    assert [m.fields for m in sock.messages] == [{"WATCHDOG": "1"}]
    sock.close()


def test_health_reports_outages_and_stalls_once_per_transition():
    tracker = HealthTracker(stall_seconds=10.0)

    def stats(ok: bool) -> PipelineStats:
        return PipelineStats(5, 5, 0.1, {"mic": SourceStats(ok, "capturing" if ok else "no audio: unplugged")})

    fine = tracker.source_health(stats(True), {"mic": 100.0}, now=101.0)
    assert fine["mic"]["ok"] and tracker.transitions(fine) == []
    down = tracker.source_health(stats(False), {"mic": 100.0}, now=103.0)
    (change,) = tracker.transitions(down)
    assert (change.ok, change.status) == (False, "no audio: unplugged")
    assert tracker.transitions(down) == []
    assert "0/1 sources ok; down: mic" in status_line("away", down, None, 5)
    stalled = tracker.source_health(stats(True), {"mic": 100.0}, now=115.0)
    assert stalled["mic"]["ok"] is False and stalled["mic"]["status"].startswith("no windows for 15 s")
    assert tracker.transitions(stalled) == []  # still down
    back = tracker.source_health(stats(True), {"mic": 115.0}, now=116.0)
    assert [c.ok for c in tracker.transitions(back)] == [True]
