"""A real, tiny filesystem for storage-fault tests: a size-limited tmpfs mounted in ``tmp_path``.

Import explicitly: ``from tests.small_fs import SmallFs, small_fs``. Needs root (the
tests skip otherwise). :meth:`SmallFs.fill` takes every free byte, :meth:`SmallFs.free`
gives it back; :meth:`SmallFs.read_only` remounts read-only.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


class SmallFs:
    def __init__(self, mountpoint: Path, size_kb: int) -> None:
        self.path = mountpoint
        mountpoint.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(mountpoint)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        self._filler = mountpoint / "filler"

    def fill(self) -> None:
        """Write until the filesystem is full (ENOSPC)."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (65536, 4096, 1):
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError:
                    continue
        finally:
            os.close(fd)

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def small_fs(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    fs = SmallFs(tmp_path / "small", 2048)
    yield fs
    fs.unmount()
