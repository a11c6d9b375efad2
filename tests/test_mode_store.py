"""The run-time mode survives a restart; a damaged store is ignored with a warning, never fatal."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from monitor.daemon.mode_store import ModeStore, StoredMode


def test_a_saved_mode_is_loaded_back_with_its_time(tmp_path: Path):
    store = ModeStore(tmp_path)
    assert store.load() is None
    store.save("away", 1_700_000_000.5)
    store.save("night", 1_700_000_100.0)
    assert ModeStore(tmp_path).load() == StoredMode("night", 1_700_000_100.0)
    assert [p.name for p in tmp_path.iterdir()] == ["mode.json"]  # no temporary file left behind


def test_a_damaged_or_strange_store_is_ignored_with_a_warning(tmp_path: Path, caplog):
    store = ModeStore(tmp_path)
    for text in ("{not json", '{"mode": "away"}', '{"mode": "vacation", "set_at": 1}', "[1, 2]", "\x00\xff"):
        store.path.write_text(text, encoding="latin-1")
        with caplog.at_level(logging.WARNING):
            assert store.load() is None
        assert str(store.path) in caplog.text or "vacation" in caplog.text
        caplog.clear()


def test_an_unwritable_store_is_a_warning_not_a_crash(tmp_path: Path, caplog):
    store = ModeStore(tmp_path / "missing-dir")
    with caplog.at_level(logging.WARNING):
        store.save("away", 1.0)
    assert "will not survive a restart" in caplog.text


def test_the_stored_mode_is_private_whatever_the_umask(tmp_path: Path):
    previous = os.umask(0o022)
    try:
        ModeStore(tmp_path).save("away", 1.0)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "mode.json").stat().st_mode) == 0o600


def test_a_stored_time_that_is_not_a_plausible_time_is_ignored(tmp_path: Path, caplog):
    store = ModeStore(tmp_path, clock=lambda: 1_700_000_000.0)
    for set_at in ("NaN", "Infinity", "-1", "1e300", "1700200000"):  # json.loads reads NaN and Infinity
        store.path.write_text(f'{{"mode": "away", "set_at": {set_at}}}')
        with caplog.at_level(logging.WARNING):
            assert store.load() is None
        assert "is not a plausible time" in caplog.text
        caplog.clear()
    store.path.write_text('{"mode": "away", "set_at": 1699999000}')
    assert store.load() == StoredMode("away", 1699999000.0)
