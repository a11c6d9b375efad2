"""When to ping systemd's watchdog: only from the processing loop, and only while it is doing its job.

Takes the notifier, the sources and the time each last produced a window; gives
:class:`LoopWatchdog`, whose :meth:`~LoopWatchdog.beat` runs inside the pipeline's loop
(every source read is observed through
:class:`~monitor.audio.source.ObservedSource`) and pings when every source is
accounted for: it produced a window recently, or it has ended, or it reports an outage
it is already handling itself (an unplugged microphone being reopened with backoff, a
stream being restarted) — that outage shows in health and MQTT, and restarting the
service would not bring the device back sooner. A source that says it is fine but
delivers no windows (a hung stream, a stuck pipeline) stops the pings, and so does a
processing loop that stops reading at all; systemd then restarts the service.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from monitor.audio.source import AudioSource
from monitor.daemon.sdnotify import Notifier

CHECK_EVERY = 0.25  # seconds between checks inside the loop (it spins ~100 times a second)


class LoopWatchdog:
    def __init__(self, notifier: Notifier, sources: Sequence[AudioSource], fresh_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.notifier = notifier
        self.sources = list(sources)
        self.fresh_seconds = fresh_seconds  # a window younger than this counts as "processing"
        self._clock = clock
        self._last_window: dict[str, float] = {}
        self._next_check = 0.0

    def window(self, source_id: str) -> None:
        """A window of this source was processed."""
        self._last_window[source_id] = self._clock()

    def healthy(self) -> bool:
        now = self._clock()
        for source in self.sources:
            fresh = now - self._last_window.get(source.id, float("-inf")) <= self.fresh_seconds
            if not (fresh or source.finished or not source.stats().ok):
                return False
        return True

    def beat(self) -> None:
        """Called from the processing loop; pings (rate-limited by the notifier) when healthy."""
        if self.notifier.watchdog_seconds is None:
            return
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY
        if self.healthy():
            self.notifier.watchdog(now)

