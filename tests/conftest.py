"""Shared fixtures: a tiny deterministic ONNX model and a way to run the CLI as a user would."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI does (monitor/cli.py)

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from daemon_support import DaemonProcess  # noqa: E402
from notify_socket import NotifySocket  # noqa: E402
from tiny_model import make_tiny_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``sound-monitor ARGS`` in a subprocess, from the repository under test."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )


@pytest.fixture
def notify(tmp_path):
    """A real unix datagram socket standing in for systemd's $NOTIFY_SOCKET."""
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


@pytest.fixture
def daemons():
    """Daemon processes a test started; killed at the end if still running."""
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.close()
