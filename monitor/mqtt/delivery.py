"""What an alert looks like on the wire, and how a replay is announced.

Takes an :class:`~monitor.alerts.Alert`, when it was journaled and when the current broker
connection began; gives the JSON payload: every alert field, plus ``replayed`` (it was
raised before this connection, i.e. during an outage or by an earlier run, so it arrives
late), ``age`` (seconds from its onset to now) and ``stale`` (replayed and older than
``stale_after``). Stale alerts are still delivered, once, with their original
``wall_time``: losing an alert is worse, and an automation can skip them by that flag.
"""

from __future__ import annotations

import json
from datetime import datetime

from monitor.alerts import Alert


def alert_payload(alert: Alert, raised_at: float, connected_at: float, now: float, stale_after: float) -> str:
    """The JSON payload of ``alert`` sent at Unix time ``now`` on a connection made at ``connected_at``."""
    replayed = raised_at < connected_at
    age = max(0.0, now - alert.wall_time)
    fields = {**alert.to_json(), "replayed": replayed, "age": round(age, 1), "stale": replayed and age > stale_after}
    return json.dumps(fields, separators=(",", ":"))


def replay_notice(count: int, oldest: Alert) -> str:
    """The log line before a backlog is re-sent: how many, and since when."""
    when = datetime.fromtimestamp(oldest.wall_time).isoformat(sep=" ", timespec="seconds")
    return f"MQTT: replaying {count} undelivered alert{'s' if count != 1 else ''} from {when}"
