"""The outbox: the journal kept going through poisoned rows, damaged files and full disks.

Real SQLite files; a real full filesystem (a size-limited tmpfs, see tests/small_fs.py).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import replace

import pytest

from monitor.errors import UserError
from monitor.journal import Journal, UnreadableEntry, journal_path
from monitor.outbox import Outbox
from tests.small_fs import small_fs  # noqa: F401  (fixture)
from tests.test_journal import run_cli
from tests.test_mqtt import make_alert


def poison(path, alert_id: str, payload: str) -> None:
    """Overwrite one row's payload behind the journal's back."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alerts SET payload = ? WHERE id = ?", (payload, alert_id))


@pytest.fixture
def poisoned(tmp_path):
    """A journal of five alerts whose second does not parse and whose fourth lacks its severity."""
    path = journal_path(tmp_path)
    alerts = [make_alert(n) for n in range(5)]
    with Journal(path) as journal:
        for alert in alerts:
            journal.append(alert)
    poison(path, alerts[1].id, '{"rule": "door", "label"')
    poison(path, alerts[3].id, '{"rule": "door"}')
    return path, alerts


def test_unreadable_rows_are_skipped_with_one_error_each_and_the_rest_stay_in_order(poisoned, caplog):
    path, alerts = poisoned
    outbox = Outbox.open(path)
    with caplog.at_level(logging.ERROR):
        first = outbox.pending()
        again = outbox.pending()
    assert [e.alert for e in first] == [e.alert for e in again] == [alerts[0], alerts[2], alerts[4]]
    errors = [r.getMessage() for r in caplog.records if "alert_skipped" in r.getMessage()]
    assert len(errors) == 2
    assert alerts[1].id in errors[0] and "JSONDecodeError" in errors[0]
    assert alerts[3].id in errors[1] and "severity" in errors[1]
    assert outbox.pending_count() == 3  # what can still be delivered
    outbox.close()


def test_the_journal_reports_unreadable_rows_instead_of_raising(poisoned):
    path, alerts = poisoned
    with Journal(path) as journal:
        entries = journal.entries()
    assert [type(e).__name__ for e in entries] == ["JournalEntry", "UnreadableEntry"] * 2 + ["JournalEntry"]
    assert isinstance(entries[1], UnreadableEntry) and entries[1].id == alerts[1].id


def test_alerts_command_shows_unreadable_rows_and_lists_the_others(poisoned):
    path, alerts = poisoned
    result = run_cli("--state-dir", str(path.parent))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()[1:]
    assert len(lines) == 5 and "Traceback" not in result.stderr
    assert "UNREADABLE" in lines[1] and alerts[1].id in lines[1]
    assert "knock at the door #2" in lines[2]
    as_json = run_cli("--state-dir", str(path.parent), "--json")
    assert '"unreadable"' in as_json.stdout.splitlines()[3]


def _random(path) -> None:
    path.write_bytes(os.urandom(20_000))


def _broken_header(path) -> None:
    data = bytearray(path.read_bytes())
    data[:16] = b"not a database!!"
    path.write_bytes(bytes(data))


def _truncated(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])


def _old_schema(path) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alerts (seq INTEGER PRIMARY KEY, payload TEXT)")


@pytest.mark.parametrize("damage", [_random, _broken_header, _truncated, _old_schema])
def test_a_damaged_journal_is_moved_aside_kept_and_replaced_by_a_fresh_one(tmp_path, damage, caplog):
    path = journal_path(tmp_path)
    with Journal(path) as journal:
        for n in range(200):  # enough rows for several pages, so truncation really cuts data
            journal.append(make_alert(n))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    damage(path)
    original = path.read_bytes()
    with caplog.at_level(logging.ERROR):
        outbox = Outbox.open(path)
    assert outbox.moved_aside is not None and outbox.moved_aside.read_bytes() == original
    assert outbox.moved_aside.name.startswith("alerts.sqlite3.damaged-")
    assert "event=journal_damaged" in caplog.text and str(outbox.moved_aside) in caplog.text
    assert outbox.health()["moved_aside"] == str(outbox.moved_aside) and outbox.health()["state"] == "ok"
    fresh = make_alert(1000)
    outbox.append(fresh)
    assert outbox.pending()[-1].alert == fresh
    outbox.close()
    with Journal(path) as journal:  # the fresh journal is a sound one
        assert journal.entries()[-1].alert == fresh


def test_undelivered_alerts_still_readable_in_a_damaged_journal_are_carried_over(tmp_path):
    path = journal_path(tmp_path)
    alerts = [make_alert(n) for n in range(3)]
    with Journal(path) as journal:
        for alert in alerts:
            journal.append(alert)
        journal.mark_delivered(alerts[0].id)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[-200:] = os.urandom(200)  # the last page (an index) damaged; the table's rows still readable
    path.write_bytes(bytes(data))
    outbox = Outbox.open(path)
    assert outbox.moved_aside is not None
    assert [e.alert for e in outbox.pending()] == alerts[1:]
    outbox.close()


def test_a_journal_from_a_newer_version_stays_refused(tmp_path):
    path = journal_path(tmp_path)
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(UserError, match="newer sound-monitor"):
        Outbox.open(path)
    assert path.exists()


def test_a_journal_damaged_while_running_is_moved_aside_and_monitoring_goes_on_in_a_fresh_one(tmp_path, caplog):
    path = journal_path(tmp_path)
    outbox = Outbox.open(path)
    for n in range(200):
        outbox.append(make_alert(n))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows are in the main file now
    with open(path, "r+b") as db_file:  # the card fails under the running daemon
        db_file.write(os.urandom(100))
    later = [make_alert(n) for n in range(200, 203)]
    with caplog.at_level(logging.ERROR):
        for alert in later:
            outbox.append(alert)  # does not raise
    assert outbox.moved_aside is not None and outbox.moved_aside.exists()
    assert "event=journal_damaged" in caplog.text
    assert [e.alert for e in outbox.pending()] == later
    assert outbox.generation == 1  # sinks resend from the start of the new numbering
    outbox.close()
    with Journal(path) as journal:
        assert [e.alert for e in journal.entries()] == later


def test_a_held_alert_is_journaled_but_not_offered_until_its_clip_is_attached(tmp_path):
    path = journal_path(tmp_path)
    outbox = Outbox.open(path)
    alert = make_alert()
    outbox.hold(alert)
    assert outbox.pending() == [] and outbox.pending_count() == 1
    with Journal(path) as journal:  # durable already: kill -9 now would not lose it
        assert [e.alert for e in journal.pending()] == [alert]
    outbox.append(replace(alert, clip_path="/clips/a.flac"))
    assert [e.alert.clip_path for e in outbox.pending()] == ["/clips/a.flac"]
    outbox.close()


def test_a_held_alert_is_owed_again_after_a_restart(tmp_path):
    path = journal_path(tmp_path)
    Outbox.open(path).hold(alert := make_alert())  # the process dies before the clip is written
    assert [e.alert for e in Outbox.open(path).pending()] == [alert]


def test_on_a_full_disk_alerts_and_marks_wait_in_memory_and_are_written_in_order_later(small_fs, caplog):  # noqa: F811
    path = journal_path(small_fs.path / "state")
    outbox = Outbox.open(path, retry_every=0.0)
    before = make_alert(0)
    outbox.append(before)
    small_fs.fill()
    during = [make_alert(n) for n in range(1, 40)]
    with caplog.at_level(logging.ERROR):
        for alert in during:
            outbox.append(alert)
        outbox.mark_delivered(before.id)
        outbox.mark_delivered(during[0].id)
        outbox.mark_cleared(during[1].id, 123.0)
    health = outbox.health()
    assert health["state"] == "failing" and health["unsaved"] > 0 and "full" in str(health["error"])
    assert caplog.text.count("event=journal_failing") == 1
    assert [e.alert for e in outbox.pending()] == during[1:]  # still there to publish
    small_fs.free()
    outbox.retry()
    assert outbox.health()["state"] == "ok"
    outbox.close()
    with Journal(path) as journal:
        entries = journal.entries()
    assert [e.alert for e in entries] == [before, *during]
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert entries[0].delivered_at and entries[1].delivered_at and entries[2].cleared_at == 123.0
    assert all(e.delivered_at is None for e in entries[2:])


def test_a_journal_that_cannot_even_be_opened_on_a_full_disk_starts_in_memory(small_fs):  # noqa: F811
    small_fs.fill()
    path = journal_path(small_fs.path / "state")
    outbox = Outbox.open(path, retry_every=0.0)
    outbox.append(alert := make_alert())
    assert outbox.health()["state"] == "failing" and [e.alert for e in outbox.pending()] == [alert]
    small_fs.free()
    outbox.retry()
    assert outbox.health()["state"] == "ok"
    outbox.close()
    with Journal(path) as journal:
        assert [e.alert for e in journal.pending()] == [alert]


def test_memory_is_bounded_and_what_it_drops_is_counted(tmp_path, caplog):
    journal = Journal(journal_path(tmp_path))
    outbox = Outbox(journal.path, journal, memory_limit=3)
    journal.close()  # every write fails from now on
    alerts = [make_alert(n) for n in range(5)]
    with caplog.at_level(logging.ERROR):
        for alert in alerts:
            outbox.append(alert)
    assert [e.alert for e in outbox.pending()] == alerts[2:]
    assert outbox.health()["dropped"] == 2 and caplog.text.count("event=alert_dropped") == 2
