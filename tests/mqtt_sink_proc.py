"""A publishing process for the tests: an MqttSink and a journal, driven by flags.

``--raise N`` raises N alerts (rule ``door``, messages ``alert 0`` ... ``alert N-1``),
then prints ``raised``. With ``--until-delivered`` it then waits until the journal's
backlog is empty, prints ``delivered`` and closes; otherwise it prints ``connected``
once connected and waits to be killed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from monitor.alerts import Alert, Severity
from monitor.journal import Journal, journal_path
from monitor.mqtt import MqttSettings, MqttSink


def alert(n: int) -> Alert:
    now = time.time()
    return Alert(
        rule="door",
        label="knock",
        labels=("knock",),
        score=0.9,
        severity=Severity.WARNING,
        mode="away",
        source="test",
        onset=float(n),
        stream_time=float(n) + 1,
        wall_time=now,
        message=f"alert {n}",
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--node-id", default="proc")
    parser.add_argument("--raise", dest="count", type=int, default=0)
    parser.add_argument("--until-delivered", action="store_true")
    args = parser.parse_args()
    settings = MqttSettings(
        host="127.0.0.1", port=args.port, node_id=args.node_id, keepalive=5,
        reconnect_min_delay=0.1, reconnect_max_delay=0.5,
    )
    journal = Journal(journal_path(args.state_dir))
    sink = MqttSink(settings, journal).start()
    for n in range(args.count):
        sink.publish_alert(alert(n))
    if args.count:
        print("raised", flush=True)
    if args.until_delivered:
        while sink.backlog or not sink.connected:
            time.sleep(0.02)
        print("delivered", flush=True)
        sink.close()
        journal.close()
        return 0
    while not sink.connected:
        time.sleep(0.02)
    print("connected", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
