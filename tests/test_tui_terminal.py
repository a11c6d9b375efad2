"""End to end in a real terminal: tmux runs ``sound-monitor tui --source FILE``, we read the screen."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_support import rules_file, scene

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux server on a private socket, so nothing else running in tmux is touched."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "tui")

    def wait_for(self, *texts: str, timeout: float = 40.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{texts} not on screen after {timeout} s:\n{screen}")
            time.sleep(0.25)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(f"sound-monitor-test-{os.getpid()}-{tmp_path.name}")
    yield server
    server("kill-server")


def test_dashboard_in_a_real_terminal(tmp_path: Path, tiny_model: Path, tmux: Tmux) -> None:
    audio = scene(tmp_path / "doorbell.wav", hum=1.0, loud=6.0, after=0.0)
    rules = rules_file(tmp_path / "rules.yaml")
    command = shlex.join([sys.executable, "-m", "monitor", "tui", "--source", str(audio), "--rules", str(rules),
                          "--model", str(tiny_model), "--hop", "0.5"])
    tmux("new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", "-e", f"PYTHONPATH={REPO}", "-c", str(REPO),
         f"{command}; echo DASHBOARD-EXIT=$?; sleep 60")
    screen = tmux.wait_for("high_tone", "dBFS", "critical")
    assert "high" in screen and "low" in screen and "mid" in screen  # the label bars
    assert "Alerts" in screen and "HOME" in screen
    tmux("send-keys", "-t", "tui", "q")
    screen = tmux.wait_for("DASHBOARD-EXIT=0", timeout=15)
    assert "Alerts" not in screen and "╭" not in screen  # the alternate screen is gone: terminal restored
