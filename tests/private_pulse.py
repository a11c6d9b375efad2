"""A private PulseAudio server: its own runtime directory and socket, never the machine's.

Started with no default configuration (``-n``): only the native protocol on its own socket,
so it has no ``module-suspend-on-idle`` and no other source. With the ``private_pulse``
fixture it has one virtual microphone (a null sink) that a test may unplug and plug back:
unloading it leaves no source at all, as pulling a USB microphone does. Clients reach it
through ``$PULSE_SERVER``. It dies with the test process (a parent-death signal), so even a
killed test run leaves no PulseAudio behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
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
            env=own, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
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


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process ends, however it ends."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@pytest.fixture
def private_pulse(tmp_path):
    server = PrivatePulse(tmp_path / "pulse")
    server.plug()
    yield server
    server.close()
