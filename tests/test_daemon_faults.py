"""Faults inside the daemon that must not stop monitoring."""

from __future__ import annotations

import logging

from monitor.alerts import Alert, Severity
from monitor.config import parse_config
from monitor.daemon.service import Daemon
from monitor.journal import Journal, journal_path
from monitor.outbox import Outbox


def test_an_alert_the_journal_cannot_store_is_kept_in_memory_and_monitoring_goes_on(tmp_path, caplog):
    config = parse_config(b"sources: [{id: a, mic: default}]\nstate_dir: state\n", tmp_path / "c.yaml", {})
    daemon = Daemon(config, {})
    journal = Journal(journal_path(config.state_dir))
    daemon.outbox = Outbox(journal.path, journal)
    journal.close()  # as if the disk had gone away under it
    alert = Alert(rule="r", label="l", labels=("l",), score=0.9, severity=Severity.CRITICAL, mode="home",
                  source="a", onset=1.0, stream_time=6.0, wall_time=1e9, message="m")  # fmt: skip
    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        daemon._dispatch(alert)  # does not raise
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("event=alert ") and f"id={alert.id}" in line for line in lines)
    assert any(line.startswith("event=journal_failing") and "hint=" in line for line in lines)
    assert daemon.outbox.health()["unsaved"] == 1 and daemon.outbox.health()["state"] == "failing"
