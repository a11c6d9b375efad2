"""Test fixtures for real audio capture: PulseAudio with a null sink as a virtual microphone.

Anything played into the sink ``virt`` (``paplay -d virt FILE``) is heard on its
monitor source, which becomes the default source, so PortAudio's ``pulse``
device records it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

SINK = "virt"


def _pactl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10)


@pytest.fixture(scope="session")
def pulseaudio() -> Iterator[None]:
    """A running PulseAudio daemon (started if needed)."""
    if not shutil.which("pulseaudio") or not shutil.which("pactl"):
        pytest.skip("PulseAudio is not installed (apt-get install pulseaudio pulseaudio-utils)")
    if _pactl("info").returncode != 0:
        subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1"], capture_output=True, timeout=20)
        for _ in range(50):
            if _pactl("info").returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.skip("PulseAudio did not start")
    # A suspended idle sink delivers no audio at all, which looks like an unplugged device.
    _pactl("unload-module", "module-suspend-on-idle")
    yield


def load_virtual_mic() -> str:
    """Load the null sink and make its monitor the default source; returns the module id."""
    module = _pactl("load-module", "module-null-sink", f"sink_name={SINK}").stdout.strip()
    _pactl("set-default-source", f"{SINK}.monitor")
    return module


def unload_virtual_mic(module: str) -> None:
    _pactl("unload-module", module)


@pytest.fixture
def virtual_mic(pulseaudio: None) -> Iterator[str]:
    """A fresh virtual microphone; PortAudio is re-initialised so it sees the current devices."""
    import sounddevice

    module = load_virtual_mic()
    sounddevice._terminate()  # PortAudio lists devices once, at initialisation
    sounddevice._initialize()
    yield SINK
    unload_virtual_mic(module)


def play(path: str, sink: str = SINK) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["paplay", "-d", sink, path])
