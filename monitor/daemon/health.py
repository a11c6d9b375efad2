"""Health: what the daemon reports about itself, and when a source goes down or comes back.

Takes pipeline statistics (per-source :class:`~monitor.audio.source.SourceStats`),
the time each source last produced a window, and the daemon's counters; gives the
health record (published on MQTT ``health`` and written to ``<state_dir>/health.json``),
the outage transitions to log, and the one-line STATUS for systemd.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from monitor.pipeline import PipelineStats
from monitor.private import write_private

HEALTH_FILENAME = "health.json"


@dataclass(frozen=True)
class Transition:
    source: str
    ok: bool
    status: str


class HealthTracker:
    """Remembers each source's last state so outages and recoveries are reported once."""

    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds  # no window for this long = the source is stalled
        self._ok: dict[str, bool] = {}

    def source_health(self, stats: PipelineStats, last_window: dict[str, float], now: float) -> dict[str, dict]:
        out = {}
        for source, s in stats.sources.items():
            age = now - last_window[source] if source in last_window else None
            stalled = age is not None and age > self.stall_seconds
            ok = s.ok and not stalled
            status = s.status if not stalled or not s.ok else f"no windows for {age:.0f} s ({s.status})"
            out[source] = {**asdict(s), "ok": ok, "status": status,
                           "last_window_age": None if age is None else round(age, 1)}  # fmt: skip
        return out

    def transitions(self, sources: dict[str, dict]) -> list[Transition]:
        changes = []
        for source, h in sources.items():
            was = self._ok.get(source, True)  # every source starts presumed healthy
            if h["ok"] != was:
                changes.append(Transition(source, h["ok"], h["status"]))
            self._ok[source] = h["ok"]
        return changes


def write_health(state_dir: Path, health: dict[str, object]) -> Path:
    """Atomically replace ``health.json`` (readers never see half a file)."""
    path = state_dir / HEALTH_FILENAME
    partial = path.with_name(path.name + ".part")
    write_private(partial, (json.dumps(health, indent=1, default=str) + "\n").encode("utf-8"))
    os.replace(partial, path)
    return path


def status_line(mode: str, sources: dict[str, dict], last_alert: str | None, windows: int) -> str:
    """``mode away; 2/2 sources ok; last alert: glass_break on mic at 12:03:04; 1234 windows``."""
    down = [s for s, h in sources.items() if not h["ok"]]
    parts = [f"mode {mode}", f"{len(sources) - len(down)}/{len(sources)} sources ok"]
    if down:
        parts.append("down: " + ", ".join(down))
    parts.append(f"last alert: {last_alert}" if last_alert else "no alerts yet")
    parts.append(f"{windows} windows")
    return "; ".join(parts)
