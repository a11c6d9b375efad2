"""Soak: a day of audio through the daemon as fast as it goes; memory, windows, fds and threads.

The daemon under test is the real service object (:class:`monitor.daemon.service.Daemon`,
the same code ``sound-monitor run --config`` runs: pipeline, rule engine, journal and
the MQTT sink publishing to a real mosquitto on a loopback port) in a child process,
so what is measured is the daemon alone. Its one source is a generated stream instead
of a file: 24 hours of audio cannot sensibly sit on disk, and a real source at its
real pace would take a day. The generator (:class:`DayOfAudio`) makes each 1-s block
on demand: room noise at -45 dBFS (above the rules' -65 dBFS gate, so every window
goes through the model — the heaviest steady state) with a held-out glass-break clip
(fold 4) every 10 minutes, which drives the rules, the journal and MQTT alerts. It is
handed to the daemon in place of its configured source (``open_configured``), and it
is not paced, so the pipeline runs as fast as one core allows.

The parent samples the child's /proc every second: resident memory (VmRSS), open file
descriptors, threads and CPU; progress (windows so far) comes from the daemon's own
``health.json``, written every second. It reports RSS after warm-up (the first 10 % of
the audio) and at the end, the growth between them and its slope per hour of audio,
the windows processed against the number the audio length implies (none missed), and
the range of fds and threads after warm-up.

    python bench/soak.py [--quick] [--model FILE] [--hours 24] [--hop 1.0]
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
import time
from pathlib import Path

import numpy as np

from _common import REPO, figures_line, load_model, model_args

DATA = REPO.parent / "shared" / "datasets" / "homesounds"
ROOM_DBFS = -45.0
EVENT_EVERY = 600.0  # seconds of audio between glass breaks
CLK_TCK = os.sysconf("SC_CLK_TCK")


def glass_clip(rate: int) -> np.ndarray:
    """One held-out glass break (fold 4) at -15 dBFS RMS, or a noise burst without the data set."""
    from monitor.train.cache import read_mono

    if (DATA / "manifest.csv").exists():
        with open(DATA / "manifest.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["label"] == "glass_breaking" and r["fold"] == "4"]
        if rows:
            audio = read_mono(DATA / sorted(rows, key=lambda r: r["path"])[0]["path"], rate)
            return (audio * (10 ** (-15 / 20) / max(1e-9, float(np.sqrt(np.mean(audio**2)))))).astype(np.float32)
    burst = np.random.default_rng(1).standard_normal(rate // 2) * np.hanning(rate // 2) * 0.3
    return burst.astype(np.float32)


def day_of_audio_source(seconds: float, rate: int):  # type: ignore[no-untyped-def]
    """The generated source (built here so the parent process never imports the daemon)."""
    from monitor.audio.paced import PacedSource

    class DayOfAudio(PacedSource):
        """``seconds`` of room noise with a glass break every EVENT_EVERY s, made block by block."""

        def __init__(self) -> None:
            super().__init__("soak", rate, 1, realtime=False, block_seconds=1.0)
            self.total = int(seconds * rate)
            self.rng = np.random.default_rng(0)
            self.event = glass_clip(rate)
            self.event_every = int(EVENT_EVERY * rate)
            self.gain = 10 ** (ROOM_DBFS / 20)

        def _next_chunk(self, frames: int) -> np.ndarray | None:
            n = min(frames, self.total - self._position)
            if n <= 0:
                return None
            chunk = (self.rng.standard_normal(n) * self.gain).astype(np.float32)
            # Event k starts at k*event_every + 30 s; add the part of it that falls in this chunk.
            first = (self._position - 30 * rate) // self.event_every
            for k in (first, first + 1):
                start = k * self.event_every + 30 * rate
                a, b = max(start, self._position), min(start + len(self.event), self._position + n)
                if k >= 0 and a < b:
                    chunk[a - self._position : b - self._position] += self.event[a - start : b - start]
            return chunk.reshape(-1, 1)

        def stop(self) -> None:
            self._done = True

    return DayOfAudio()


def child(config_path: Path, seconds: float) -> int:
    """Run the daemon on the generated source until the audio ends."""
    from monitor.config import load_config
    from monitor.daemon import logfmt, service

    config = load_config(config_path, os.environ)
    logfmt.configure(config.logging.level, False)
    service.open_configured = lambda source, rate: day_of_audio_source(seconds, rate)  # the only substitution
    return service.Daemon(config, os.environ).run()


def expected_windows(seconds: float, rate: int, hop: float, window_samples: int, hop_length: int) -> int:
    """Windows the pipeline must emit: hop apart on the frame grid, until one covers the last sample."""
    total = int(seconds * rate)
    k = 0
    while round(k * hop * rate / hop_length) * hop_length + window_samples < total - hop_length:
        k += 1
    return k + 1


def sample(pid: int) -> dict[str, float] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    fields = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if ":" in line and line.split()[1:]}
    ticks = stat[stat.rindex(")") + 2 :].split()
    return {
        "rss_mb": int(fields["VmRSS"]) / 1024,
        "threads": int(fields["Threads"]),
        "fds": fds,
        "cpu": (int(ticks[11]) + int(ticks[12])) / CLK_TCK,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_args(parser)
    parser.add_argument("--hours", type=float, default=None, help="hours of audio (default: 24, --quick 1)")
    parser.add_argument("--hop", type=float, default=1.0)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: run the daemon
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.exit(child(args.child, args.seconds))

    from mqtt_fixtures import Broker  # tests/: a real mosquitto on a free loopback port

    hours = args.hours or (1.0 if args.quick else 24.0)
    seconds = hours * 3600
    f = load_model(args.model).metadata.features
    expected = expected_windows(seconds, f.sample_rate, args.hop, f.window_samples, f.hop_length)
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as name:
        tmp = Path(name)
        broker = Broker(tmp / "broker").start()
        state = tmp / "state"
        config = tmp / "config.yaml"
        config.write_text(json.dumps({  # JSON is YAML
            "sources": [{"id": "soak", "mic": "default"}],  # replaced by the generated source
            "model": {"path": str(args.model.resolve())}, "hop": args.hop, "rules": str(REPO / "rules.yaml"),
            "state_dir": str(state), "health_interval": 1, "logging": {"level": "warning"},
            "mqtt": {"host": "127.0.0.1", "port": broker.port, "node_id": "soak"},
        }))  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
        log = (tmp / "daemon.log").open("w")
        process = subprocess.Popen(
            [sys.executable, __file__, "--child", str(config), "--seconds", str(seconds), "--model", str(args.model)],
            cwd=REPO, env=env, stdout=log, stderr=log,
        )  # fmt: skip
        t0 = time.monotonic()
        trace: list[tuple[float, dict[str, float]]] = []  # (audio seconds done, sample)
        try:
            while process.poll() is None:
                s = sample(process.pid)
                try:
                    done = json.loads((state / "health.json").read_text())["windows"] * args.hop
                except (OSError, ValueError, KeyError):
                    done = 0.0
                if s is not None:
                    trace.append((done, s))
                time.sleep(1.0)
            health = json.loads((state / "health.json").read_text())
        finally:
            if process.poll() is None:
                process.terminate()
            broker.stop()
        wall = time.monotonic() - t0
        if process.returncode != 0:
            print((tmp / "daemon.log").read_text()[-3000:], file=sys.stderr)
            raise SystemExit(f"the daemon exited with {process.returncode}")
        alerts = sum(1 for line in (tmp / "daemon.log").read_text().splitlines() if "event=alert " in line)

    warm = [s for done, s in trace if done >= 0.1 * seconds]
    if len(warm) < 2:
        raise SystemExit("the run was too short to sample after warm-up; use more --hours")
    first_warm = next(i for i, (done, _) in enumerate(trace) if done >= 0.1 * seconds)
    xs = np.array([done for done, _ in trace[first_warm:]]) / 3600
    rss = np.array([s["rss_mb"] for s in warm])
    slope = float(np.polyfit(xs, rss, 1)[0]) if np.ptp(xs) > 0 else 0.0
    growth = warm[-1]["rss_mb"] - warm[0]["rss_mb"]
    peak = max(s["rss_mb"] for _, s in trace)
    cpu = trace[-1][1]["cpu"]
    windows, inferred = health["windows"], health["inferred"]
    print(f"{hours:g} h of audio at hop {args.hop:g} s in {wall:.0f} s wall ({seconds / wall:.0f}x real time, "
          f"{cpu:.0f} CPU-s); {alerts} alerts")  # fmt: skip
    print(f"windows {windows} (expected {expected}, missed {expected - windows}), inferred {inferred}")
    print(f"RSS after warm-up {warm[0]['rss_mb']:.1f} MB -> end {warm[-1]['rss_mb']:.1f} MB "
          f"(growth {growth:+.1f} MB, slope {slope:+.2f} MB per audio hour), peak {peak:.1f} MB")  # fmt: skip
    fds = [s["fds"] for s in warm]
    threads = [s["threads"] for s in warm]
    print(f"open fds {min(fds)}..{max(fds)}, threads {min(threads)}..{max(threads)} after warm-up")
    print(
        figures_line(
            {
                "audio_hours": f"{hours:g}",
                "wall_s": f"{wall:.0f}",
                "x_realtime": f"{seconds / wall:.0f}",
                "windows": windows,
                "windows_expected": expected,
                "windows_missed": expected - windows,
                "rss_start_mb": f"{warm[0]['rss_mb']:.1f}",
                "rss_end_mb": f"{warm[-1]['rss_mb']:.1f}",
                "rss_growth_mb": f"{growth:.1f}",
                "rss_slope_mb_per_h": f"{slope:.2f}",
                "rss_peak_mb": f"{peak:.1f}",
                "fds_min": min(fds),
                "fds_max": max(fds),
                "threads_min": min(threads),
                "threads_max": max(threads),
                "alerts": alerts,
            }
        )
    )


if __name__ == "__main__":
    main()
