"""The MQTT sink under connection faults: never a hang, never a silent failure.

Real mosquitto on loopback; the faults are real clients and real listeners.
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from monitor.journal import Journal
from monitor.mqtt import MqttSink
from tests.mqtt_fixtures import Broker, broker, fast_settings, wait_until  # noqa: F401  (broker is a fixture)
from tests.test_mqtt import make_alert

BACKLOG = 800


class Usurper:
    """Connects with the sink's client id every ``interval`` s: the broker drops the sink each time,
    typically right after its CONNACK while it replays the backlog."""

    def __init__(self, broker: Broker, client_id: str, interval: float = 0.1) -> None:
        self._broker, self._client_id, self._interval = broker, client_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id)
            try:
                client.connect(self._broker.host, self._broker.port, keepalive=5)
                client.loop(0.02)
                client.disconnect()
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _owner_calls(sink: MqttSink, until: float, slowest: list[float]) -> None:
    """What the daemon's main thread does: raise alerts and publish state, timing each call."""
    n = BACKLOG
    while time.monotonic() < until:
        started = time.monotonic()
        sink.publish_alert(make_alert(n))
        slowest[0] = max(slowest[0], time.monotonic() - started)
        n += 1
        time.sleep(0.01)


@pytest.mark.timeout(300)
def test_a_backlog_replayed_through_repeated_takeovers_never_blocks_the_owner(broker, tmp_path):
    settings = fast_settings(broker, client_id="sink-under-test", reconnect_max_delay=0.2)
    for run in range(20):
        with Journal(tmp_path / f"j{run}.sqlite3") as journal:
            for n in range(BACKLOG):
                journal.append(make_alert(n))
            sink = MqttSink(settings, journal).start()
            usurper = Usurper(broker, settings.client_id)  # type: ignore[arg-type]
            slowest = [0.0]
            owner = threading.Thread(target=_owner_calls, args=(sink, time.monotonic() + 1.5, slowest), daemon=True)
            owner.start()
            owner.join(10)
            usurper.stop()
            assert not owner.is_alive(), f"run {run}: the owner's publish_alert hung (deadlock)"
            assert slowest[0] < 1.0, f"run {run}: a publish_alert took {slowest[0]:.2f} s"
            assert wait_until(lambda: sink.connected and sink.backlog == 0, timeout=30), f"run {run}: not drained"
            closer = threading.Thread(target=sink.close, daemon=True)
            closer.start()
            closer.join(10)
            assert not closer.is_alive(), f"run {run}: close() hung"
