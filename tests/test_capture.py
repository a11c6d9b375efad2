"""The real capture path: PulseAudio virtual microphone -> PortAudio -> ring buffer."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from audio_fixtures import play, virtual_mic, pulseaudio  # noqa: F401 (fixtures)
from monitor.audio.mic import MicSource, list_input_devices, resolve_device
from monitor.errors import AudioInputError
from signals import rms_dbfs, tone, write


def capture(source: MicSource, seconds: float) -> np.ndarray:
    blocks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        block = source.read()
        if block is not None:
            blocks.append(block.samples[:, 0])
        time.sleep(0.02)
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def test_a_tone_played_into_the_virtual_mic_arrives_with_its_level(virtual_mic, tmp_path):
    wav = write(tmp_path / "tone.wav", tone(1000, 2.0, 44100, amplitude=0.25), 44100, "PCM_16")
    mic = MicSource("pulse")
    mic.start()
    try:
        player = play(str(wav))
        audio = capture(mic, 3.5)
        player.wait(timeout=10)
        stats = mic.stats()
    finally:
        mic.stop()
    assert stats.ok, stats.status
    quarter = mic.sample_rate // 4
    levels = [rms_dbfs(audio[i : i + quarter]) for i in range(0, len(audio) - quarter, quarter)]
    loud = [lv for lv in levels if lv > -40]
    assert len(loud) >= 6, f"expected ~2 s of tone, got levels {levels}"  # at least 1.5 s of it
    # A 0.25-amplitude sine is -15.05 dBFS RMS; PulseAudio passes it at unity gain.
    assert np.median(loud) == pytest.approx(-15.05, abs=1.0)


def test_devices_are_listed_with_their_default_rates(virtual_mic):
    devices = list_input_devices()
    pulse = next(d for d in devices if d.name == "pulse")
    assert pulse.default_rate > 0 and pulse.channels >= 1


def test_an_unknown_device_name_is_a_clear_error(virtual_mic):
    with pytest.raises(AudioInputError, match="matches no input device.*inputs are"):
        resolve_device("no-such-microphone")


def test_the_virtual_mic_lives_on_a_private_server_not_the_machines(virtual_mic, pulseaudio, tmp_path_factory):
    assert os.environ["PULSE_SERVER"] == f"unix:{pulseaudio.socket}"
    assert pulseaudio.socket.is_relative_to(tmp_path_factory.getbasetemp())
    assert "Default Source: virt.monitor" in pulseaudio.pactl("info").stdout
    assert "module-suspend-on-idle" not in pulseaudio.pactl("list", "short", "modules").stdout


def test_a_killed_test_run_leaves_no_pulseaudio_behind(tmp_path):
    script = ("import sys, time; from pathlib import Path; sys.path.insert(0, sys.argv[1])\n"
              "from private_pulse import PrivatePulse\n"
              "print(PrivatePulse(Path(sys.argv[2])).process.pid, flush=True); time.sleep(60)\n")  # fmt: skip
    tests = str(Path(__file__).parent)
    runner = subprocess.Popen([sys.executable, "-c", script, tests, str(tmp_path / "p")], stdout=subprocess.PIPE, text=True)
    server = int(runner.stdout.readline())  # type: ignore[union-attr]
    runner.kill()
    runner.wait(10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{server}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{server}").exists() or "Z" in Path(f"/proc/{server}/stat").read_text().split()[2]
