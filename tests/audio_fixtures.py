"""Test fixtures for real audio capture: a private PulseAudio with a null sink as a virtual microphone.

The session gets its own PulseAudio server (tests/private_pulse.py: its own runtime
directory and socket, stopped at the end of the session whatever happens), never the
machine's: the user's default source and modules stay as they were. ``$PULSE_SERVER``
points this process and its children (PortAudio, ``paplay``) at it for the session.
Anything played into the sink ``virt`` (``play(FILE)``) is heard on its monitor source,
which becomes the default source, so PortAudio's ``pulse`` device records it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from private_pulse import PrivatePulse

SINK = "virt"


@pytest.fixture(scope="session")
def pulseaudio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePulse]:
    """The session's private PulseAudio server, the one ``$PULSE_SERVER`` names meanwhile."""
    server = PrivatePulse(tmp_path_factory.mktemp("pulse"))
    saved = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server.env["PULSE_SERVER"]
    try:
        yield server
    finally:
        if saved is None:
            os.environ.pop("PULSE_SERVER", None)
        else:
            os.environ["PULSE_SERVER"] = saved
        server.close()


@pytest.fixture
def virtual_mic(pulseaudio: PrivatePulse) -> Iterator[str]:
    """A fresh virtual microphone; PortAudio is re-initialised so it sees the current devices."""
    import sounddevice

    module = pulseaudio.pactl("load-module", "module-null-sink", f"sink_name={SINK}").stdout.strip()
    pulseaudio.pactl("set-default-source", f"{SINK}.monitor")
    sounddevice._terminate()  # PortAudio lists devices once, at initialisation
    sounddevice._initialize()
    yield SINK
    pulseaudio.pactl("unload-module", module)


def play(path: str, sink: str = SINK) -> subprocess.Popen[bytes]:
    """``paplay`` into ``sink`` of the session's server (``$PULSE_SERVER``)."""
    return subprocess.Popen(["paplay", "-d", sink, path])
