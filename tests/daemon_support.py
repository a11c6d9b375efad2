"""Running the daemon as systemd would: a subprocess with a config, a notify socket and signals."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from notify_socket import NotifySocket
from signals import noise, tone, write

REPO = Path(__file__).resolve().parents[1]
RATE = 22050

RULES = """\
version: 1
min_level_dbfs: -90
rules:
  - name: low_sound
    sound: low
    threshold: 0.6
    cooldown: 30s
    clear_after: 3s
    severity: critical
"""


def scene(path: Path, seconds: float = 24.0, sound: tuple[float, float] = (8.0, 11.0)) -> Path:
    """Quiet noise (its energy sits in the high mel bands) with a 300-Hz tone (``low``) during ``sound``."""
    audio = noise(seconds, RATE, -50.0)
    a, b = int(sound[0] * RATE), int(sound[1] * RATE)
    audio[a:b] += tone(300, sound[1] - sound[0], RATE, 0.3)[: b - a]
    return write(path, audio.astype(np.float32), RATE)


def write_config(directory: Path, model: Path, source: str, extra: str = "", rules: str = RULES) -> Path:
    (directory / "rules.yaml").write_text(rules)
    path = directory / "config.yaml"
    path.write_text(
        f"sources:\n  - {source}\nmodel: {{path: {model}}}\nrules: rules.yaml\nstate_dir: state\nhop: 0.5\n"
        f"health_interval: 1\n{extra}"
    )
    return path


class DaemonProcess:
    """``sound-monitor run --config FILE`` with $NOTIFY_SOCKET bound by the test; stderr kept in a file."""

    def __init__(self, config: Path, notify: NotifySocket | None = None, watchdog_usec: int | None = None,
                 env: dict[str, str] | None = None) -> None:  # fmt: skip
        self.directory = config.parent
        self.log_path = self.directory / "daemon.log"
        # PYTHONFAULTHANDLER: a hung daemon is killed with SIGABRT and dumps every thread's stack into the log.
        full_env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1", **(env or {})}
        full_env.pop("NOTIFY_SOCKET", None)
        full_env.pop("STATE_DIRECTORY", None)
        if notify is not None:
            full_env["NOTIFY_SOCKET"] = notify.address
        if watchdog_usec is not None:
            full_env["WATCHDOG_USEC"] = str(watchdog_usec)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            cwd=self.directory, env=full_env, stdout=subprocess.DEVNULL, stderr=self._log,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, name: str) -> list[str]:
        return [line for line in self.log().splitlines() if f"event={name} " in line + " "]

    def wait_for_event(self, name: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if found:
                return found[0]
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no event={name} within {timeout} s; log:\n{self.log()}")

    def health(self) -> dict:
        path = self.directory / "state" / "health.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGABRT)
            self.process.wait(10)
            raise AssertionError(f"the daemon did not stop within {timeout} s; its log and stacks:\n{self.log()[-6000:]}")
        return code, time.monotonic() - start

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


class LiveStream:
    """A live source for the daemon: ``url`` (a FIFO) plays ``audio`` in real time, looping, as a
    camera would; when the reader goes away (the daemon killed), it waits for the next one."""

    def __init__(self, fifo: Path, audio: np.ndarray, rate: int = RATE) -> None:
        os.mkfifo(fifo)
        self.url = f"file://{fifo}"
        self._fifo, self._audio, self._rate = fifo, audio.astype("<f4"), rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        block = self._rate // 10
        while not self._stop.is_set():
            try:
                with open(self._fifo, "wb", buffering=0) as pipe:  # blocks until a reader opens it
                    pipe.write(wav_stream_header(self._rate))
                    start, sent = time.monotonic(), 0
                    while not self._stop.is_set():
                        offset = (sent * block) % (len(self._audio) - block)
                        pipe.write(self._audio[offset : offset + block].tobytes())
                        sent += 1
                        time.sleep(max(0.0, start + sent * 0.1 - time.monotonic()))
            except OSError:  # the reader went away: wait for the next one
                time.sleep(0.1)

    def close(self) -> None:
        self._stop.set()
        try:  # release a writer blocked in open()
            os.close(os.open(self._fifo, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
        self._thread.join(5)


def wav_stream_header(rate: int) -> bytes:
    """A streaming WAV header (float32 mono, sizes unknown)."""
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    return b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF)
