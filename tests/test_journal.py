"""The alert journal: order, delivery marks, retention, crash safety, and ``sound-monitor alerts``."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.journal import Journal, default_state_dir, journal_path
from tests.mqtt_fixtures import WORKTREE
from tests.test_mqtt import make_alert


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_alerts_come_back_in_raise_order_until_delivered(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as journal:
        alerts = [make_alert(n) for n in range(5)]
        seqs = [journal.append(a) for a in alerts]
        assert seqs == sorted(seqs)
        assert [e.alert for e in journal.pending()] == alerts
        journal.mark_delivered(alerts[1].id)
        journal.mark_delivered(alerts[3].id)
        assert [e.alert for e in journal.pending()] == [alerts[0], alerts[2], alerts[4]]
        assert [e.alert for e in journal.pending(after_seq=seqs[2])] == [alerts[4]]
        assert journal.pending_count() == 3
        assert [e.alert for e in journal.entries()] == alerts


def test_appending_the_same_alert_twice_keeps_one_row(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as journal:
        alert = make_alert()
        assert journal.append(alert) == journal.append(alert)
        assert len(journal.entries()) == 1


def test_the_journal_uses_wal_and_persists_across_reopening(tmp_path):
    path = tmp_path / "deep" / "state" / "alerts.sqlite3"
    with Journal(path) as journal:
        journal.append(make_alert())
    assert path.parent.stat().st_mode & 0o777 == 0o700
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Journal(path) as journal:
        assert journal.pending_count() == 1


def test_retention_drops_delivered_alerts_first(tmp_path, caplog):
    with Journal(tmp_path / "j.sqlite3", max_entries=5) as journal:
        alerts = [make_alert(n) for n in range(5)]
        for a in alerts:
            journal.append(a)
        journal.mark_delivered(alerts[2].id)
        journal.append(extra := make_alert(5))
        assert [e.alert for e in journal.entries()] == alerts[:2] + alerts[3:] + [extra]
        assert not caplog.records
        with caplog.at_level(logging.WARNING):
            journal.append(newest := make_alert(6))
        assert [e.alert for e in journal.entries()] == alerts[1:2] + alerts[3:] + [extra, newest]
        assert "dropped the oldest 1 undelivered" in caplog.text


def test_retention_drops_old_delivered_alerts_but_keeps_old_undelivered_ones(tmp_path):
    clock = FakeClock()
    with Journal(tmp_path / "j.sqlite3", max_age_days=1, clock=clock) as journal:
        delivered, owed = make_alert(0), make_alert(1)
        journal.append(delivered)
        journal.append(owed)
        journal.mark_delivered(delivered.id)
        clock.now += 2 * 86400
        journal.append(fresh := make_alert(2))
        assert [e.alert for e in journal.entries()] == [owed, fresh]


def test_delivered_and_cleared_times_are_recorded(tmp_path):
    clock = FakeClock()
    with Journal(tmp_path / "j.sqlite3", clock=clock) as journal:
        alert = make_alert()
        journal.append(alert)
        clock.now += 3
        journal.mark_delivered(alert.id)
        journal.mark_cleared(alert.id, 1_700_000_100.0)
        (entry,) = journal.entries()
        assert (entry.raised_at, entry.delivered_at, entry.cleared_at) == (
            1_700_000_000.0,
            1_700_000_003.0,
            1_700_000_100.0,
        )


_APPENDER = """
import sys, time
from pathlib import Path
from monitor.journal import Journal
from tests.test_mqtt import make_alert
journal = Journal(Path(sys.argv[1]))
n = 0
while True:
    alert = make_alert(n)
    journal.append(alert)
    print(alert.id, flush=True)
    n += 1
"""


@pytest.mark.timeout(60)
def test_every_alert_whose_append_returned_survives_kill_9(tmp_path):
    path = tmp_path / "j.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-c", _APPENDER, str(path)], cwd=WORKTREE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    acknowledged = [process.stdout.readline().strip() for _ in range(30)]
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    with Journal(path) as journal:
        stored = [e.alert.id for e in journal.entries()]
    assert stored[: len(acknowledged)] == acknowledged
    assert journal_ok(path)


def journal_ok(path: Path) -> bool:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_default_state_dir_follows_systemd_then_xdg_then_home(tmp_path):
    assert default_state_dir({"STATE_DIRECTORY": "/var/lib/sound-monitor:/var/lib/x"}) == Path("/var/lib/sound-monitor")
    assert default_state_dir({"XDG_STATE_HOME": "/x/state"}) == Path("/x/state/sound-monitor")
    assert default_state_dir({}, home=tmp_path) == tmp_path / ".local/state/sound-monitor"


def test_an_unusable_state_dir_is_a_user_error(tmp_path):
    from monitor.errors import UserError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot open the alert journal .*--state-dir"):
        Journal(blocker / "alerts.sqlite3")


# -- sound-monitor alerts ---------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "alerts", *args],
        cwd=WORKTREE,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(WORKTREE), "PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **(env or {})},
        timeout=60,
    )


@pytest.fixture
def state(tmp_path):
    now = time.time()
    with Journal(journal_path(tmp_path)) as journal:
        old, recent = make_alert(0), make_alert(1)
        journal.append(replace(old, wall_time=now - 3 * 86400))
        journal.append(replace(recent, wall_time=now - 60, rule="glass"))
        journal.mark_delivered(recent.id)
    return tmp_path


def test_alerts_command_lists_the_journal_oldest_first(state):
    result = run_cli("--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["time", "source", "severity", "rule", "label", "score", "mode", "mqtt", "cleared",
                              "message"]  # as the README lists them
    assert len(lines) == 2
    assert "door" in lines[0] and "PENDING" in lines[0]
    assert "glass" in lines[1] and "delivered" in lines[1]


def test_alerts_command_since_and_json(state):
    result = run_cli("--state-dir", str(state), "--since", "1h", "--json")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert record["rule"] == "glass" and record["delivered_at"] is not None and record["seq"] == 2
    assert len(run_cli("--state-dir", str(state), "--since", "2000-01-01", "--json").stdout.splitlines()) == 2


def test_alerts_command_finds_the_xdg_state_dir(state):
    xdg = state.parent
    (xdg / "sound-monitor").symlink_to(state)
    result = run_cli("--limit", "1", env={"XDG_STATE_HOME": str(xdg)})
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 and "glass" in result.stdout.splitlines()[1]


def test_a_limit_beyond_any_journal_lists_every_alert(state):
    result = run_cli("--state-dir", str(state), "--limit", "99999999999999999999", "--json")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since 'yesterday'"),
        (["--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_alerts_command_user_errors_are_one_line(state, args, message):
    result = run_cli("--state-dir", str(state), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_alerts_command_without_a_journal_says_where_it_looked(tmp_path):
    result = run_cli("--state-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert f"no alert journal at {tmp_path / 'nowhere' / 'alerts.sqlite3'}" in result.stderr
