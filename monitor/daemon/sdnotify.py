"""systemd's notification protocol (sd_notify), spoken directly over its unix datagram socket.

Takes the environment at the edge (``$NOTIFY_SOCKET``: a path, or ``@name`` for the
abstract namespace; ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID``); gives a
:class:`Notifier` that sends ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``,
``RELOADING=1`` (with ``MONOTONIC_USEC``, as ``Type=notify-reload`` in systemd >= 253
requires) and ``STOPPING=1``. Without ``$NOTIFY_SOCKET`` (not run by systemd) every
call is a no-op. Sending never raises and never blocks: a lost notification must not
stop monitoring.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None, watchdog_seconds: float | None = None) -> None:
        """``address`` as in ``$NOTIFY_SOCKET``; ``watchdog_seconds`` the watchdog timeout, if enabled."""
        self.watchdog_seconds = watchdog_seconds
        self._address: str | bytes | None = None
        self._socket: socket.socket | None = None
        if address:
            # A leading '@' means Linux's abstract namespace: the name starts with a NUL byte.
            self._address = "\0" + address[1:] if address.startswith("@") else address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # Never block the processing loop: if the receiver's queue is full, the message is dropped.
            self._socket.setblocking(False)
        self._last_ping = float("-inf")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Notifier":
        watchdog = None
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is meant for; a child must not answer for it.
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec) / 1e6
        return cls(environ.get("NOTIFY_SOCKET"), watchdog)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; True if it went out."""
        if self._socket is None or self._address is None:
            return False
        try:
            self._socket.sendto("\n".join(fields).encode(), self._address)
            return True
        except OSError as exc:
            log.debug("sd_notify %s failed: %s", fields, exc)
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *(_status(status) if status else ()))

    def status(self, text: str) -> bool:
        return self.send(*_status(text))

    def reloading(self) -> bool:
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self, now: float | None = None) -> bool:
        """Ping the watchdog if enabled and half its timeout has passed since the last ping.

        Call it only from the processing loop, after windows were processed: a stalled
        pipeline then stops pinging and systemd restarts the service.
        """
        if self.watchdog_seconds is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self._last_ping < self.watchdog_seconds / 2:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status(text: str) -> tuple[str]:
    return ("STATUS=" + " ".join(text.split()),)  # one line: a newline would end the field
