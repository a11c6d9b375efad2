"""Files of the state directory (journal, health, mode, clips) private to the service's user.

Takes paths; creates files with mode 0600, whatever the umask (alerts and recordings of a
house are nobody else's business, and outside systemd's ``UMask=0077`` the usual umask 022
would make them world-readable), and says when a directory is open to other users.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600


def create_private(path: Path) -> BinaryIO:
    """``path`` opened for writing, created or emptied, with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # O_CREAT leaves the mode of a file that already existed
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes) -> None:
    with create_private(path) as file:
        file.write(data)


def touch_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (e.g. before SQLite creates it with the umask's mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    except FileExistsError:
        pass


def open_to_others(directory: Path) -> str | None:
    """``"readable by its group and others (mode 0755)"`` for a directory others can look into, else None."""
    mode = stat.S_IMODE(directory.stat().st_mode)
    who = [name for name, bits in (("its group", 0o070), ("others", 0o007)) if mode & bits]
    return f"open to {' and '.join(who)} (mode {mode:04o})" if who else None
