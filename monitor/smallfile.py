"""Reading a small file named by the user without hanging or exhausting memory.

Takes a path and a byte limit; gives the file's bytes, or raises :class:`FileRefused`
saying in words what is wrong. Only regular files are read: a FIFO would block the
reader for ever (``open`` itself blocks on a FIFO without a writer, hence ``O_NONBLOCK``)
and ``/dev/zero`` or ``/dev/urandom`` never end. The kind and the size are checked
on the open descriptor, not on the name, so a file swapped in between cannot slip
through, and at most ``limit + 1`` bytes are ever read (a file growing meanwhile is
refused, not read without bound).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

READ_CHUNK = 64 * 1024


class FileRefused(Exception):
    """The path cannot be read as a small regular file; the message says why, e.g.
    ``is a FIFO (named pipe), not a regular file`` or ``cannot be read: permission denied``
    (a predicate, to follow the file's name). ``missing`` tells "not found" apart."""

    def __init__(self, reason: str, missing: bool = False) -> None:
        super().__init__(reason)
        self.missing = missing


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words ("a directory", "a FIFO (named pipe)", ...)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular(mode: int) -> str | None:
    """``None`` for a regular file, else the reason it cannot be read as one."""
    if stat.S_ISREG(mode):
        return None
    return f"is {kind_of(mode)}, not a regular file"


def read_small_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``limit`` of them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileRefused("not found", missing=True) from None
    except OSError as exc:
        # Opening a socket fails with ENXIO ("no such device or address"): say what it is.
        raise FileRefused("is a socket, not a regular file" if exc.errno == errno.ENXIO else _failed(exc)) from None
    try:
        info = os.fstat(fd)
        reason = not_regular(info.st_mode)
        if reason is not None:
            raise FileRefused(reason)
        if info.st_size > limit:
            raise FileRefused(f"is {info.st_size} bytes, larger than the {limit}-byte limit")
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(READ_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileRefused(f"grew past the {limit}-byte limit while being read")
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(_failed(exc)) from None
    finally:
        os.close(fd)


def _failed(exc: OSError) -> str:
    return f"cannot be read: {(exc.strerror or str(exc)).lower()}"
