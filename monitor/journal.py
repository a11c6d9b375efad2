"""Alert journal: a durable SQLite outbox of every alert, in the state directory.

Takes a database path (resolved at the edge, see :func:`default_state_dir`) and
:class:`~monitor.alerts.Alert` records; gives them back in the order they were
raised, with when each was delivered (the broker's PUBACK) and cleared.

Every alert is committed here *before* any sink sees it, with
``journal_mode=WAL`` and ``synchronous=FULL``: once :meth:`Journal.append` returns,
the alert survives ``kill -9`` and power loss. Only alerts appended with ``deliver=True``
(a live source of a run with an MQTT sink) are owed to the broker: sinks replay
:meth:`Journal.pending` after a reconnect or a restart and call
:meth:`Journal.mark_delivered`; alerts keep their id, so consumers can drop the
duplicates at-least-once delivery allows. The others (the demo, recordings, runs
without MQTT) are kept for ``sound-monitor alerts`` and never sent later.
Retention: at most ``max_entries`` rows, and rows not owed (delivered or never to be
sent) no older than ``max_age_days``; owed rows are dropped only when the row limit forces it
(with a warning). Safe to share between threads (one connection behind a lock).

A row whose payload cannot be read back (hand-edited, written by a broken build)
comes back as an :class:`UnreadableEntry`, never as an exception. A file that is not
a usable journal (not SQLite, malformed, an unknown table layout) raises
:class:`JournalDamaged`; :func:`salvage` and :func:`move_aside` let the owner keep what
it can and start afresh (see :mod:`monitor.outbox`). A journal from a newer version
is refused with a plain :class:`~monitor.errors.UserError`.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from monitor.alerts import Alert
from monitor.errors import UserError
from monitor.private import touch_private

log = logging.getLogger(__name__)

JOURNAL_FILENAME = "alerts.sqlite3"
_SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,  -- raise order; never reused
    id           TEXT NOT NULL UNIQUE,
    rule         TEXT NOT NULL,
    wall_time    REAL NOT NULL,
    payload      TEXT NOT NULL,                      -- Alert.to_json()
    raised_at    REAL NOT NULL,
    delivered_at REAL,
    cleared_at   REAL,
    deliver      INTEGER NOT NULL DEFAULT 1          -- 1: owed to the broker; 0: never sent later
);
CREATE INDEX IF NOT EXISTS alerts_undelivered ON alerts(seq) WHERE delivered_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_wall_time ON alerts(wall_time);
"""
_COLUMNS = {"seq", "id", "rule", "wall_time", "payload", "raised_at", "delivered_at", "cleared_at"}
_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)  # the file itself is bad, not the disk


class JournalDamaged(UserError):
    """The file is not a usable alert journal (not SQLite, malformed, or an unknown layout)."""


class JournalUnavailable(UserError):
    """The journal cannot be opened or written now (disk full, I/O error, read-only)."""


def is_damage(exc: sqlite3.Error) -> bool:
    """True if ``exc`` says the database file is corrupt, rather than that the disk refused a write."""
    return getattr(exc, "sqlite_errorcode", None) in _DAMAGED

_OWED = "delivered_at IS NULL AND deliver = 1"  # what the broker has yet to acknowledge


def default_state_dir(environ: Mapping[str, str], home: Path | None = None) -> Path:
    """systemd's ``$STATE_DIRECTORY``, else ``$XDG_STATE_HOME/sound-monitor``, else ``~/.local/state/sound-monitor``."""
    if environ.get("STATE_DIRECTORY"):
        # systemd sets a colon-separated list when several StateDirectory= are given.
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    if environ.get("XDG_STATE_HOME"):
        return Path(environ["XDG_STATE_HOME"]) / "sound-monitor"
    return (home or Path.home()) / ".local" / "state" / "sound-monitor"


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    alert: Alert
    raised_at: float
    delivered_at: float | None
    cleared_at: float | None
    deliver: bool = True  # owed to the broker (False: kept here only)

    def to_json(self) -> dict[str, object]:
        return {
            **self.alert.to_json(),
            "seq": self.seq,
            "raised_at": self.raised_at,
            "delivered_at": self.delivered_at,
            "cleared_at": self.cleared_at,
            "deliver": self.deliver,
        }


@dataclass(frozen=True)
class UnreadableEntry:
    """A row whose payload does not parse as an alert; ``reason`` says why."""

    seq: int
    id: str
    raised_at: float
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"seq": self.seq, "id": self.id, "raised_at": self.raised_at, "unreadable": self.reason}


class Journal:
    """The outbox. ``path`` is the database file; its directory is created (mode 0700)."""

    def __init__(
        self,
        path: Path,
        *,
        max_entries: int = 10_000,
        max_age_days: float = 90.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1 or max_age_days <= 0:
            raise UserError("journal: max_entries must be at least 1 and max_age_days positive")
        self.path = path
        self._max_entries = max_entries
        self._max_age = max_age_days * 86400.0
        self._clock = clock
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise UserError(
                f"cannot open the alert journal {path}: {exc.strerror or exc}; "
                "check the state directory (--state-dir, or state_dir in the config file)"
            ) from None
        try:
            touch_private(path)  # SQLite gives its -wal and -shm files the database file's mode
            # autocommit: each statement is its own transaction, durable when it returns
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise JournalUnavailable(f"cannot open the alert journal {path}: {exc}") from None
        try:
            self._open(path)
        except UserError:
            self._db.close()
            raise
        except sqlite3.Error as exc:
            self._db.close()
            if is_damage(exc):
                raise JournalDamaged(f"the alert journal {path} is damaged: {exc}") from None
            raise JournalUnavailable(f"cannot open the alert journal {path}: {exc}") from None

    def _open(self, path: Path) -> None:
        """Check the file is a journal this version can use, then ensure the schema."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise UserError(f"alert journal {path} was written by a newer sound-monitor (schema {version}); upgrade")
        # A power cut on an SD card can leave a file that opens but cannot be read.
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise JournalDamaged(f"the alert journal {path} is damaged: {problems[0]}")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(alerts)").fetchall()}
        if columns and not _COLUMNS <= columns:
            raise JournalDamaged(f"the alert journal {path} has an unknown layout (columns {', '.join(sorted(columns))})")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        if columns and "deliver" not in columns:  # schema 1, before delivery was decided per alert: all owed
            self._db.execute("ALTER TABLE alerts ADD COLUMN deliver INTEGER NOT NULL DEFAULT 1")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, alert: Alert, deliver: bool = True, seq: int | None = None) -> int:
        """Commit ``alert``, owed to the broker if ``deliver``; returns its sequence number.

        Appending an alert again (same id) keeps its row, place and ``deliver`` and updates
        its payload: that is how a clip's path is attached to an alert journaled when it
        was raised. ``seq`` places a new row explicitly (it must exceed :meth:`last_seq`).
        """
        payload = json.dumps(alert.to_json(), separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO alerts (seq, id, rule, wall_time, payload, raised_at, deliver) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET payload = excluded.payload",
                (seq, alert.id, alert.rule, alert.wall_time, payload, self._clock(), int(deliver)),
            )
            seq = self._db.execute("SELECT seq FROM alerts WHERE id = ?", (alert.id,)).fetchone()[0]
            self._prune()
        return int(seq)

    def mark_delivered(self, alert_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE alerts SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL", (self._clock(), alert_id)
            )

    def mark_cleared(self, alert_id: str, wall_time: float) -> None:
        with self._lock:
            self._db.execute("UPDATE alerts SET cleared_at = ? WHERE id = ?", (wall_time, alert_id))

    def last_seq(self) -> int:
        """The highest sequence number ever given out (deleted rows included), 0 for a new journal."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'alerts'").fetchone()
        return int(row[0]) if row else 0

    def pending(self, after_seq: int = 0, limit: int | None = None) -> list[JournalEntry | UnreadableEntry]:
        """Undelivered alerts owed to the broker with ``seq > after_seq``, oldest first."""
        return self._select(f"{_OWED} AND seq > ?", (after_seq,), limit)

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM alerts WHERE {_OWED}").fetchone()[0])

    def entries(self, since: float | None = None, limit: int | None = None) -> list[JournalEntry | UnreadableEntry]:
        """Journaled alerts whose onset (wall time) is at or after ``since``, oldest first.

        With ``limit``, the newest ``limit`` of them (still oldest first).
        """
        rows = self._select(
            "wall_time >= ?", (since if since is not None else float("-inf"),), limit, newest_first=limit is not None
        )
        return sorted(rows, key=lambda e: e.seq)

    def _select(
        self, where: str, params: tuple[object, ...], limit: int | None, newest_first: bool = False
    ) -> list[JournalEntry | UnreadableEntry]:
        order = "DESC" if newest_first else "ASC"
        sql = (
            "SELECT seq, id, payload, raised_at, delivered_at, cleared_at, deliver "
            f"FROM alerts WHERE {where} ORDER BY seq {order}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_entry(*row) for row in rows]

    def _prune(self) -> None:
        """Apply retention; called with the lock held, after each append."""
        self._db.execute(
            f"DELETE FROM alerts WHERE NOT ({_OWED}) AND raised_at < ?", (self._clock() - self._max_age,)
        )
        excess = self._db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] - self._max_entries
        if excess <= 0:
            return
        undelivered = f"SELECT COUNT(*) FROM alerts WHERE {_OWED}"
        before = self._db.execute(undelivered).fetchone()[0]
        # Delivered and never-owed rows go first; undelivered ones only when nothing else is left to drop.
        self._db.execute(
            f"DELETE FROM alerts WHERE seq IN (SELECT seq FROM alerts ORDER BY {_OWED}, seq LIMIT ?)",
            (excess,),
        )
        lost = before - self._db.execute(undelivered).fetchone()[0]
        if lost:
            log.warning(
                "alert journal %s holds %d undelivered alerts, its limit; dropped the oldest %d undelivered",
                self.path,
                self._max_entries,
                lost,
            )


def _entry(
    seq: int, alert_id: str, payload: str, raised: float, delivered: float | None, cleared: float | None, deliver: int
) -> JournalEntry | UnreadableEntry:
    try:
        alert = Alert.from_json(json.loads(payload))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSONDecodeError is a ValueError
        reason = f"{type(exc).__name__}: {str(exc)[:80]}"
        return UnreadableEntry(seq, alert_id, raised, reason)
    return JournalEntry(seq, alert, raised, delivered, cleared, bool(deliver))


def journal_path(state_dir: Path) -> Path:
    return state_dir / JOURNAL_FILENAME


def salvage(path: Path) -> list[Alert]:
    """The undelivered alerts still readable in a damaged journal, oldest first (best effort)."""
    alerts: list[Alert] = []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return alerts
    try:
        try:
            rows = db.execute(f"SELECT payload FROM alerts WHERE {_OWED} ORDER BY seq")
        except sqlite3.OperationalError:  # schema 1: no deliver column, every row was owed
            rows = db.execute("SELECT payload FROM alerts WHERE delivered_at IS NULL ORDER BY seq")
        for (payload,) in rows:
            try:
                alerts.append(Alert.from_json(json.loads(payload)))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    except sqlite3.Error:  # corruption further on: keep what came before it
        pass
    finally:
        db.close()
    return alerts


def move_aside(path: Path, now: float) -> Path:
    """Rename a damaged journal (and its WAL files) to ``<name>.damaged-<UTC time>``; the new name."""
    stamp = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):  # a stale WAL would be replayed into the fresh journal
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    return target

