"""Onset-to-alert latency through the real daemon and a real MQTT broker.

A scene is built from held-out audio (fold 4 of ../shared/datasets/homesounds, the
training's test fold): a background bed of quiet household/outdoor clips at -40 dBFS
with glass-break clips (trimmed to their active part, +10 dB over the background)
inserted at known stream times. For each hop the real daemon
(``sound-monitor run --config``, a subprocess) plays the scene as a file source paced
in real time (``realtime: true``: 0.1-s blocks released on the wall clock, like a
microphone), with one rule on ``glass_breaking``, and publishes to a real mosquitto
on a loopback port; a paho subscriber here stamps each ``<prefix>/alert`` on arrival.

Latency = arrival time - wall-clock time of the true onset. It has two parts, both
reported: the model's (how much of the event the deciding window must hold: the alert's
``stream_time`` is that window's end) and the system's (arrival - that window's end:
pacing, polling, features, inference, rules, journal, MQTT). The alert's ``wall_time``
and ``onset`` describe the same window start (Unix time and stream time), so
``wall_time - onset`` is the wall-clock time of stream time 0 and the true onset of
event i at stream time T_i happened at ``wall_time - onset + T_i``. An alert matches
an event if it arrives between the event's onset and its end plus one window
(5 s) + 1 s; events with no match are missed, other alerts are false alarms.

CPU: the daemon's utime+stime from /proc/<pid>/stat, from its first published window
(``<prefix>/state``) to the end of the scene, over the wall time between them (model
loading and imports are not counted); RSS: the largest VmRSS seen.

    python bench/latency.py [--quick] [--model FILE] [--hops 1,0.5,0.25]

--quick runs the three hops at once (three daemons, one broker, 3 events each: a
little CPU contention between them); the full run plays 10 events per hop, one hop
after the other.
"""

from __future__ import annotations

import _common  # noqa: F401  (first: it limits BLAS threads before numpy loads)
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import soundfile
from paho.mqtt.enums import CallbackAPIVersion

from _common import REPO, figures_line, load_model, model_args
from monitor.evaluate.mixtures import active_span, background_bed, rms
from monitor.train.cache import read_mono

DATA = REPO.parent / "shared" / "datasets" / "homesounds"
FOLD = "4"  # the training's held-out test fold
BACKGROUND_LABELS = ("air_conditioner", "clock_tick", "washing_machine", "rain", "wind", "keyboard_typing")
BACKGROUND_DBFS = -40.0
LEAD_IN = 6.0  # the first window needs 5 s of audio
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Scene:
    path: Path
    onsets: list[float]
    durations: list[float]
    seconds: float


def fold_clips(label: str) -> list[Path]:
    with open(DATA / "manifest.csv", newline="") as f:
        return sorted(DATA / row["path"] for row in csv.DictReader(f) if row["label"] == label and row["fold"] == FOLD)


def build_scene(path: Path, rate: int, n_events: int, gap: float, ebr_db: float, seed: int) -> Scene:
    """Background bed with glass breaks every ``gap`` seconds, written to ``path``."""
    rng = np.random.default_rng(seed)
    beds = []
    for label in BACKGROUND_LABELS:
        for clip in fold_clips(label):
            audio = read_mono(clip, rate)
            if rms(audio) > 1e-5:
                beds.append(audio * (10 ** (BACKGROUND_DBFS / 20) / rms(audio)))
    glass = fold_clips("glass_breaking")
    if not glass or not beds:
        raise SystemExit(f"no fold-{FOLD} glass_breaking or background clips in {DATA}")
    seconds = LEAD_IN + n_events * gap
    mix = background_bed(beds, seconds, rate, rng)
    onsets, durations = [], []
    for i in range(n_events):
        audio = read_mono(glass[i % len(glass)], rate)
        a, b = active_span(audio)
        event = audio[a:b]
        onset = LEAD_IN + i * gap
        i0 = int(onset * rate)
        i1 = min(len(mix), i0 + len(event))
        target = rms(mix[i0:i1]) * 10 ** (ebr_db / 20)
        mix[i0:i1] += event[: i1 - i0] * (target / max(rms(event), 1e-12))
        onsets.append(i0 / rate)
        durations.append((i1 - i0) / rate)
    mix *= min(1.0, 0.99 / float(np.max(np.abs(mix))))
    soundfile.write(str(path), mix, rate, subtype="PCM_16")
    return Scene(path, onsets, durations, seconds)


def write_config(folder: Path, scene: Scene, model: Path, label: str, hop: float, port: int, node: str) -> Path:
    rules = folder / "rules.yaml"
    rules.write_text(
        "version: 1\nmin_level_dbfs: -65\nrules:\n"
        f"  - name: glass_break\n    sound: {label}\n    severity: critical\n"
        "    cooldown: 5s\n    clear_after: 2s\n    message: glass breaking on {source}\n"
    )
    config = folder / "config.yaml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "sources": [{"id": "room", "file": str(scene.path), "realtime": True}],
                "model": {"path": str(model), "threads": 1},
                "hop": hop,
                "rules": str(rules),
                "state_dir": str(folder / "state"),
                "mqtt": {"host": "127.0.0.1", "port": port, "node_id": node, "discovery": False},
                "clips": {"enabled": False},  # clips hold an alert back for their post-roll
                "logging": {"level": "warning"},
            }
        )
    )
    return config


@dataclass
class Run:
    """One daemon playing the scene at one hop, with what arrived for it."""

    hop: float
    node: str
    process: subprocess.Popen
    alerts: list[tuple[float, dict]] = field(default_factory=list)  # (arrival Unix time, payload)
    first_state: float | None = None  # arrival of the first window's state message
    cpu_at_first_state: float | None = None
    last_sample: tuple[float, float] = (0.0, 0.0)  # (time, CPU seconds) of the last /proc read
    rss_mb: float = 0.0


def proc_cpu_rss(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, RSS MB) of a live process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)
    rss = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)
    return cpu, rss


class Listener:
    """A paho subscriber stamping alerts and first-state arrivals for every run."""

    def __init__(self, port: int, runs: dict[str, Run]) -> None:
        self.runs = runs
        self.lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-latency-{os.getpid()}")
        self.client.on_connect = lambda c, *_: c.subscribe([("sound-monitor/+/alert", 1), ("sound-monitor/+/state", 0)])
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise SystemExit("the benchmark's subscriber got no SUBACK")

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        _, node, kind = message.topic.split("/")
        run = self.runs.get(node)
        if run is None:
            return
        with self.lock:
            if kind == "alert":
                run.alerts.append((now, json.loads(message.payload)))
            elif run.first_state is None:
                sample = proc_cpu_rss(run.process.pid)
                if sample is not None:
                    run.first_state, run.cpu_at_first_state = now, sample[0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def watch(runs: list[Run], lock: threading.Lock, timeout: float) -> None:
    """Poll each daemon's CPU and RSS until all have exited (the scene ended)."""
    deadline = time.monotonic() + timeout
    while any(r.process.poll() is None for r in runs):
        if time.monotonic() > deadline:
            for r in runs:
                r.process.terminate()
            raise SystemExit("a daemon did not finish its scene in time")
        for r in runs:
            sample = proc_cpu_rss(r.process.pid) if r.process.poll() is None else None
            if sample is not None:
                with lock:
                    r.last_sample = (time.time(), sample[0])
                    r.rss_mb = max(r.rss_mb, sample[1])
        time.sleep(0.2)


@dataclass
class Result:
    hop: float
    latencies: list[float]
    delays: list[float]  # arrival - end of the window that completed the rule: pipeline + broker
    missed: int
    false_alarms: int
    cpu_pct: float
    rss_mb: float


def score(run: Run, scene: Scene, window_seconds: float) -> Result:
    matched: dict[int, float] = {}
    delays: list[float] = []
    false_alarms = 0
    for arrival, alert in sorted(run.alerts, key=lambda a: a[0]):
        zero = alert["wall_time"] - alert["onset"]  # wall-clock time of stream time 0
        at = arrival - zero  # arrival, in stream time
        hits = [i for i, t in enumerate(scene.onsets)
                if t <= at <= t + scene.durations[i] + window_seconds + 1.0 and i not in matched]  # fmt: skip
        if hits:
            matched[hits[0]] = at - scene.onsets[hits[0]]
            delays.append(at - alert["stream_time"])  # after the audio of the deciding window was heard
        else:
            false_alarms += 1
    if run.first_state is None or run.cpu_at_first_state is None:
        raise SystemExit(f"hop {run.hop}: the daemon published no window (see its log above)")
    t_end, cpu_end = run.last_sample
    cpu_pct = 100 * (cpu_end - run.cpu_at_first_state) / max(1e-9, t_end - run.first_state)
    latencies = [matched[i] for i in sorted(matched)]
    return Result(run.hop, latencies, delays, len(scene.onsets) - len(matched), false_alarms, cpu_pct, run.rss_mb)


def start_daemon(config: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )  # fmt: skip


def run_hops(hops: list[float], scene: Scene, args, label: str, tmp: Path, parallel: bool, window: float) -> list[Result]:  # type: ignore[no-untyped-def]
    from mqtt_fixtures import Broker  # tests/: a real mosquitto on a free loopback port

    broker = Broker(tmp / "broker").start()
    runs: dict[str, Run] = {}
    listener = Listener(broker.port, runs)
    results = []
    try:
        batches = [hops] if parallel else [[h] for h in hops]
        for batch in batches:
            group = []
            for hop in batch:
                node = f"bench-hop-{str(hop).replace('.', '_')}"
                folder = tmp / node
                folder.mkdir()
                config = write_config(folder, scene, args.model.resolve(), label, hop, broker.port, node)
                with listener.lock:
                    runs[node] = Run(hop, node, start_daemon(config, folder / "daemon.log"))
                group.append(runs[node])
            watch(group, listener.lock, timeout=scene.seconds + 60)
            time.sleep(0.5)  # let the last QoS-1 alerts land
            for run in group:
                if run.process.returncode != 0:
                    print((tmp / run.node / "daemon.log").read_text()[-2000:], file=sys.stderr)
                    raise SystemExit(f"hop {run.hop}: the daemon exited with {run.process.returncode}")
                results.append(score(run, scene, window))
    finally:
        listener.close()
        for run in runs.values():
            if run.process.poll() is None:
                run.process.terminate()
        broker.stop()
    return results


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_args(parser)
    parser.add_argument("--hops", default="1,0.5,0.25", help="comma-separated hops in seconds")
    parser.add_argument("--events", type=int, default=None, help="events per hop (default: 3 quick, 10 full)")
    parser.add_argument("--gap", type=float, default=11.0, help="seconds between event onsets")
    parser.add_argument("--ebr", type=float, default=10.0, help="event-to-background ratio in dB")
    parser.add_argument("--label", default="glass_breaking", help="the model label the rule watches")
    args = parser.parse_args()
    model = load_model(args.model)
    if args.label not in model.labels:
        raise SystemExit(f"{args.model}: no label {args.label!r} (labels: {', '.join(model.labels)})")
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} not found: the benchmark needs the homesounds data set next to the repository")
    hops = [float(h) for h in args.hops.split(",")]
    n_events = args.events or (3 if args.quick else 10)
    rate = model.metadata.features.sample_rate
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as name:
        tmp = Path(name)
        scene = build_scene(tmp / "scene.wav", rate, n_events, args.gap, args.ebr, seed=0)
        mode = "at once" if args.quick else "one after the other"
        print(f"scene: {scene.seconds:g} s, {n_events} glass breaks (fold {FOLD}, +{args.ebr:g} dB) "
              f"every {args.gap:g} s; hops {args.hops} {mode}", flush=True)  # fmt: skip
        results = run_hops(hops, scene, args, args.label, tmp, args.quick, model.metadata.features.window_seconds)
    print(f"{'hop':>5} {'p50 s':>6} {'p95 s':>6} {'max s':>6} {'missed':>7} {'false':>6} {'CPU %':>6} {'RSS MB':>7}"
          f" {'system p50/max s':>17}")
    figures: dict[str, object] = {}
    for r in results:
        p50, p95, worst = pct(r.latencies, 50), pct(r.latencies, 95), max(r.latencies, default=float("nan"))
        print(f"{r.hop:5g} {p50:6.2f} {p95:6.2f} {worst:6.2f} {r.missed:>4}/{n_events:<2} {r.false_alarms:6} "
              f"{r.cpu_pct:6.2f} {r.rss_mb:7.0f} {pct(r.delays, 50):8.2f}/{max(r.delays, default=float('nan')):.2f}")  # fmt: skip
        key = f"{r.hop:g}".replace(".", "")
        figures.update({f"p50_hop{key}": f"{p50:.2f}", f"p95_hop{key}": f"{p95:.2f}", f"max_hop{key}": f"{worst:.2f}",
                        f"missed_hop{key}": r.missed, f"false_hop{key}": r.false_alarms,
                        f"cpu_pct_hop{key}": f"{r.cpu_pct:.2f}", f"rss_mb_hop{key}": f"{r.rss_mb:.0f}",
                        f"system_p50_hop{key}": f"{pct(r.delays, 50):.2f}",
                        f"system_max_hop{key}": f"{max(r.delays, default=float('nan')):.2f}"})  # fmt: skip
    figures["events_per_hop"] = n_events
    print(figures_line(figures))


if __name__ == "__main__":
    main()
