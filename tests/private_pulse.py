"""A private PulseAudio server with one virtual microphone that a test may unplug and plug back.

The shared PulseAudio (tests/audio_fixtures.py) moves a stream to another source when its
source disappears, so an unplugged microphone never looks unplugged there, and other tests
use it concurrently. This server has nothing but a null sink: unloading it leaves no source
at all, as pulling a USB microphone does. Clients reach it through ``$PULSE_SERVER``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

SINK = "vmic"


class PrivatePulse:
    def __init__(self, directory: Path) -> None:
        if not shutil.which("pulseaudio") or not shutil.which("pactl"):
            pytest.skip("PulseAudio is not installed (apt-get install pulseaudio pulseaudio-utils)")
        directory.mkdir(parents=True, exist_ok=True)
        self.socket = directory / "native"
        self.env = {"PULSE_SERVER": f"unix:{self.socket}"}
        own = {**os.environ, "HOME": str(directory), "XDG_RUNTIME_DIR": str(directory),
               "PULSE_RUNTIME_PATH": str(directory / "runtime")}  # fmt: skip
        self._log = (directory / "pulseaudio.log").open("w")
        self.process = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1"],
            env=own, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        for _ in range(100):
            if self.pactl("info").returncode == 0:
                break
            time.sleep(0.1)
        else:
            self.close()
            pytest.skip("the private PulseAudio server did not start")
        self.module = ""

    def pactl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10,
                              env={**os.environ, **self.env})  # fmt: skip

    def plug(self) -> None:
        self.module = self.pactl("load-module", "module-null-sink", f"sink_name={SINK}").stdout.strip()
        self.pactl("set-default-source", f"{SINK}.monitor")

    def unplug(self) -> None:
        self.pactl("unload-module", self.module)

    def sources(self) -> list[str]:
        return [line.split("\t")[1] for line in self.pactl("list", "short", "sources").stdout.splitlines() if line]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self._log.close()


@pytest.fixture
def private_pulse(tmp_path):
    server = PrivatePulse(tmp_path / "pulse")
    server.plug()
    yield server
    server.close()
