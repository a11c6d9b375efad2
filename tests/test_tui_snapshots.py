"""Snapshots of the dashboard at 80x24 and 120x40 from a fixed replay (no wall clock on screen).

Update after an intended change of the screen: ``pytest tests/test_tui_snapshots.py --snapshot-update``,
then look at the SVGs in ``tests/__snapshots__/``.
"""

from __future__ import annotations

import time

import pytest

from monitor.tui.app import MonitorApp
from tui_support import ReplayFeed, replay_messages


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    """Alert times are shown in local time: pin the zone so the snapshot is the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def settle(pilot) -> None:
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare, size: tuple[int, int]) -> None:
    app = MonitorApp(ReplayFeed(replay_messages(), end="replay.wav: end of input"))
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_help_screen(snap_compare) -> None:
    app = MonitorApp(ReplayFeed(replay_messages()))
    assert snap_compare(app, press=["question_mark"], terminal_size=(80, 24), run_before=settle)
