"""The dashboard keeps up with a 0.25-s hop in real time for minutes without growing (slow)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import pytest

from monitor.audio.open import open_source
from monitor.model.runner import ModelRunner
from monitor.rules import Engine, load_rules
from monitor.tui.app import MonitorApp
from monitor.tui.local_feed import LocalFeed
from monitor.tui.messages import Heard
from monitor.tui.widgets import HISTORY, MAX_COLUMNS, AlertTable, LabelHistory, Spectrogram, StatusBar
from signals import tone, write
from tui_support import HUM_HZ, RATE, TONE_HZ, rules_file

MINUTES = 3.0
HOP = 0.25


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_three_minutes_at_hop_quarter_second_in_real_time(tmp_path: Path, tiny_model: Path) -> None:
    cycle = np.concatenate([tone(HUM_HZ, 8.0, RATE, 0.05), tone(TONE_HZ, 4.0, RATE, 0.3)])  # the tone fires high_tone
    audio = write(tmp_path / "long.wav", np.tile(cycle, int(MINUTES * 60 / 12)), RATE)
    model = ModelRunner(tiny_model)
    rules = rules_file(tmp_path / "rules.yaml")
    engine = Engine(load_rules(rules, model.labels, model.metadata.thresholds))
    source = open_source(str(audio), model.metadata.features.sample_rate, realtime=True)
    feed = LocalFeed(source, model, engine, HOP)
    samples: list[tuple[float, int]] = []
    heard: list[float] = []

    class CountingApp(MonitorApp):
        def on_heard(self, message: Heard) -> None:
            heard.append(time.monotonic())
            super().on_heard(message)

    async def scenario() -> None:
        app = CountingApp(feed)
        async with app.run_test(size=(120, 40)) as pilot:
            status = app.query_one(StatusBar)
            started = time.monotonic()
            while status.ended is None:
                await pilot.pause(1.0)
                samples.append((time.monotonic() - started, rss_bytes()))
                assert time.monotonic() - started < MINUTES * 60 + 60, "the replay fell behind real time"
            assert len(app.query_one(Spectrogram).columns) <= MAX_COLUMNS
            assert all(len(h) <= HISTORY for h in app.query_one(LabelHistory).history.values())
            assert app.query_one(AlertTable).row_count >= MINUTES - 1  # the rule's cooldown is a minute

    cpu0 = time.process_time()
    asyncio.run(scenario())
    cpu = time.process_time() - cpu0
    windows = len(heard)
    assert windows >= MINUTES * 60 / HOP - 25
    after_warmup = [rss for t, rss in samples if t > 30]
    growth = max(after_warmup) - after_warmup[0]
    print(f"\n{windows} windows in {samples[-1][0]:.0f} s; process CPU {cpu / samples[-1][0] * 100:.1f}% of a core; "
          f"RSS {after_warmup[0] / 2**20:.1f} -> {after_warmup[-1] / 2**20:.1f} MiB (max growth {growth / 2**20:.2f} MiB)")
    assert growth < 8 * 2**20
