"""CPU and memory of the whole daemon with one live source: silence, a quiet room, continuous sound.

``bench/idle.py`` measures the pipeline alone; this runs the real daemon
(``sound-monitor run --config``, a subprocess) with the shipped ``rules.yaml`` and the
MQTT sink publishing to a real mosquitto on loopback, its one source a file paced in
real time (0.1-s blocks, like a microphone). Per condition it reports the daemon's CPU
(utime+stime from /proc/<pid>/stat) from 8 s after start (imports, model load and the
first window done) to 1 s before the end of the file (not the shutdown after it), over
the wall time between, and its largest RSS.

    python bench/daemon_idle.py [--quick] [--model FILE]
"""

from __future__ import annotations

import _common  # noqa: F401  (first: it limits BLAS threads before numpy loads)
import argparse
import json
import tempfile
import time
from pathlib import Path

import soundfile

from _common import REPO, figures_line, load_model, model_args
from idle import condition_audio
from latency import proc_cpu_rss, start_daemon

WARM_UP = 8.0
END_MARGIN = 1.0


def run(folder: Path, audio_path: Path, model: Path, port: int, seconds: float) -> tuple[float, float]:
    """(CPU % of one core, peak RSS MB) of the daemon playing ``audio_path`` (``seconds`` long)."""
    config = folder / "config.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "sources": [{"id": "room", "file": str(audio_path), "realtime": True}],
        "model": {"path": str(model)}, "hop": 1.0, "rules": str(REPO / "rules.yaml"),
        "state_dir": str(folder / "state"), "logging": {"level": "warning"},
        "mqtt": {"host": "127.0.0.1", "port": port, "node_id": folder.name, "discovery": True},
    }))  # fmt: skip
    started = time.time()
    process = start_daemon(config, folder / "daemon.log")
    time.sleep(WARM_UP)
    first = proc_cpu_rss(process.pid)
    t0, last, t1, rss = time.time(), first, time.time(), 0.0
    # Sampling stops a second before the audio ends: the figure is the cost of running, not of the
    # shutdown that follows the end of the file (draining, disconnecting: 0.1-0.2 s of CPU once).
    while process.poll() is None and time.time() - started < seconds - END_MARGIN:
        sample = proc_cpu_rss(process.pid)
        if sample is not None:
            last, t1, rss = sample, time.time(), max(rss, sample[1])
        time.sleep(0.2)
    process.wait()
    if process.returncode != 0 or first is None or last is None:
        raise SystemExit(f"the daemon failed: {(folder / 'daemon.log').read_text()[-2000:]}")
    return 100 * (last[0] - first[0]) / (t1 - t0), rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_args(parser)
    args = parser.parse_args()
    from mqtt_fixtures import Broker  # tests/: a real mosquitto on a free loopback port

    rate = load_model(args.model).metadata.features.sample_rate
    seconds = 17.0 if args.quick else 68.0  # measured: all but the first 8 s
    figures: dict[str, object] = {}
    print(f"the daemon with one real-time source, MQTT on, hop 1 s, {seconds - WARM_UP:g} s measured per condition")
    with tempfile.TemporaryDirectory(prefix="bench-daemon-idle-") as name:
        tmp = Path(name)
        broker = Broker(tmp / "broker").start()
        try:
            for condition in ("silence", "quiet_room", "continuous"):
                folder = tmp / condition.replace("_", "-")
                folder.mkdir()
                audio = folder / "audio.wav"
                soundfile.write(str(audio), condition_audio(condition, seconds, rate), rate, subtype="FLOAT")
                cpu, rss = run(folder, audio, args.model.resolve(), broker.port, seconds)
                print(f"{condition:>12}: {cpu:5.2f} % of a core, RSS {rss:.0f} MB", flush=True)
                figures[f"daemon_cpu_pct_{condition}"] = f"{cpu:.2f}"
                figures[f"daemon_rss_mb_{condition}"] = f"{rss:.0f}"
        finally:
            broker.stop()
    print(figures_line(figures))


if __name__ == "__main__":
    main()
