"""One daemon per state directory: an exclusive lock, and the holder's PID for the message.

Takes the state directory; gives a :class:`StateDirLock` held until released or the
process ends (the kernel drops it even after ``kill -9``). The lock is taken on the
directory itself, so it needs no free space (a full disk must not stop a restart);
the PID goes into ``daemon.pid`` only to name the holder to a second daemon.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from monitor.errors import UserError
from monitor.private import write_private

PID_FILENAME = "daemon.pid"


class StateDirLock:
    def __init__(self, fd: int, directory: Path) -> None:
        self._fd = fd
        self.directory = directory

    @classmethod
    def acquire(cls, directory: Path) -> "StateDirLock":
        """Create ``directory`` if needed and lock it; UserError if it cannot be written or is in use."""
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise UserError(f"cannot create the state directory {directory}: {exc.strerror or exc}") from None
        if not os.access(directory, os.W_OK):
            raise UserError(f"the state directory {directory} cannot be written (read-only or no permission)")
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _holder(directory)
            raise UserError(
                f"another sound-monitor ({holder}) is already using the state directory {directory}; "
                "stop it, or give this one its own state_dir"
            ) from None
        try:
            write_private(directory / PID_FILENAME, f"{os.getpid()}\n".encode())
        except OSError:  # a full disk: the lock holds anyway, only the message loses the PID
            pass
        return cls(fd, directory)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _holder(directory: Path) -> str:
    try:
        pid = (directory / PID_FILENAME).read_text().strip()
    except OSError:
        return "PID unknown"
    return f"PID {pid}" if pid.isdigit() else "PID unknown"
