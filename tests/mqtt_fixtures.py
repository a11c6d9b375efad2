"""A real mosquitto broker and a real subscriber for the MQTT and journal tests.

Import explicitly: ``from tests.mqtt_fixtures import Broker, Subscriber, broker``.
The ``broker`` fixture starts Debian's ``mosquitto`` on a free loopback port with its
config, persistence and log in ``tmp_path``; :meth:`Broker.stop` /
:meth:`Broker.start` restart it on the same port (an outage).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
WORKTREE = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Broker:
    """One mosquitto process; ``listener`` lines can carry TLS and password settings."""

    def __init__(self, workdir: Path, port: int | None = None, extra_config: str = "") -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        extra = extra_config if "allow_anonymous" in extra_config else "allow_anonymous true\n" + extra_config
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{extra}\n"
            "user root\n"  # stay root when run as root: the files live in a private tmp_path
            "persistence true\n"
            f"persistence_location {workdir / 'data'}/\n"
            f"log_dest file {self.log}\n"
            "log_type all\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Broker":
        if MOSQUITTO is None or not Path(MOSQUITTO).exists():
            pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                errors = self.process.stderr.read().decode()  # type: ignore[union-attr]
                raise RuntimeError(f"mosquitto exited: {errors}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on port {self.port}")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): mosquitto saves its persistence file."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts what clients send, but nothing is acknowledged."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def crash(self) -> None:
        """SIGKILL: connections are reset and nothing is saved."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def broker(tmp_path: Path):
    server = Broker(tmp_path / "broker").start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> object:
        return json.loads(self.payload)


class Subscriber:
    """A real paho client recording what arrives on ``topics``.

    With ``session`` it keeps a persistent session (clean_session False, QoS 1), so
    messages published while it is cut off by a broker restart are queued for it.
    """

    def __init__(
        self,
        broker: Broker,
        *topics: str,
        client_id: str | None = None,
        session: bool = False,
        ca_certs: Path | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._topics = topics
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-sub-{time.monotonic_ns()}",
            clean_session=not session,
        )
        if ca_certs is not None:
            self.client.tls_set(ca_certs=str(ca_certs))
        if credentials is not None:
            self.client.username_pw_set(*credentials)
        self.client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("test subscriber did not get its SUBACK")

    def expect_resubscribe(self) -> None:
        """Before a broker restart: :meth:`wait_subscribed` then waits for the new SUBACK."""
        self._subscribed.clear()

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        return self._subscribed.wait(timeout)

    def _on_connect(self, client, userdata, flags, reason, props) -> None:
        client.subscribe([(topic, 1) for topic in self._topics])

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain)))

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        found = self.on(topic)
        return found[-1] if found else None

    def last_payload(self, topic: str) -> bytes | None:
        found = self.on(topic)
        return found[-1].payload if found else None

    def wait_for(self, predicate: Callable[["Subscriber"], object], timeout: float = 10.0) -> bool:
        return wait_until(lambda: predicate(self), timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(broker: Broker, topic: str, timeout: float = 3.0) -> bytes | None:
    """The retained payload on ``topic`` as a new subscriber sees it (None: nothing retained)."""
    sub = Subscriber(broker, topic)
    try:
        sub.wait_for(lambda s: s.on(topic), timeout)
        found = [m for m in sub.on(topic) if m.retain]
        return found[-1].payload if found else None
    finally:
        sub.close()


def sink_process(args: list[str]) -> subprocess.Popen[str]:
    """Run ``tests/mqtt_sink_proc.py`` (a real publishing process) with this worktree's ``monitor``."""
    return subprocess.Popen(
        [sys.executable, str(WORKTREE / "tests" / "mqtt_sink_proc.py"), *args],
        cwd=WORKTREE,
        env={**os.environ, "PYTHONPATH": str(WORKTREE)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line_until(process: subprocess.Popen[str], expected: str, timeout: float = 15.0) -> None:
    """Block until ``process`` prints ``expected`` on a line of its stdout."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            errors = process.stderr.read()  # type: ignore[union-attr]
            raise AssertionError(f"process ended before {expected!r}: {errors}")
        if line.strip() == expected:
            return
    raise AssertionError(f"process did not print {expected!r} in {timeout} s")


def fast_settings(broker: Broker, **overrides: object):
    """MqttSettings for ``broker`` with test-sized keepalive and backoff."""
    from monitor.mqtt import MqttSettings

    values: dict[str, object] = {
        "host": broker.host,
        "port": broker.port,
        "node_id": "testnode",
        "keepalive": 5,
        "reconnect_min_delay": 0.1,
        "reconnect_max_delay": 0.5,
        "state_interval": 0.0,
        "health_interval": 0.0,
    }
    values.update(overrides)
    return MqttSettings(**values)  # type: ignore[arg-type]
