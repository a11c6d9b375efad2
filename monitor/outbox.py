"""The outbox: the alert journal, kept going through damaged and full storage.

Takes the journal's path; gives what :class:`~monitor.journal.Journal` gives
(append, pending, marks) except that no storage fault ever raises:

* a damaged journal (at start or while running) is moved aside, timestamped, with
  its still-readable undelivered alerts carried over into a fresh one;
* while the journal cannot be written (disk full, I/O errors) alerts, and the
  delivered/cleared marks of journaled ones, are kept in memory (at most
  ``memory_limit`` alerts, oldest dropped first and counted) and written as soon as a
  retry succeeds, so they are still published meanwhile;
* an unreadable or unpublishable row is skipped with one logged error naming its id.

An alert can be *held*: journaled (so it survives ``kill -9``) but not yet offered
for publishing, while its evidence clip is being recorded; :meth:`Outbox.append`
releases it with the clip's path. Held ids live only in memory, so after a restart
a held alert is simply pending and is delivered without its clip.

Sequence numbers: alerts kept in memory get the numbers they will have in the
journal, so a sink's "sent up to seq" stays true when they are written. When
numbering has to restart (a fresh journal replaced a damaged one)
:attr:`Outbox.generation` changes and sinks resend from the start. Thread-safe.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.alerts import Alert
from monitor.journal import (
    Journal,
    JournalDamaged,
    JournalEntry,
    JournalUnavailable,
    UnreadableEntry,
    is_damage,
    move_aside,
    salvage,
)

log = logging.getLogger(__name__)

MEMORY_LIMIT = 5000  # alerts kept in memory while the journal cannot write (~1 kB each)
RETRY_EVERY = 10.0  # seconds between attempts to write to a failing journal


@dataclass
class _Unsaved:
    """An alert the journal could not take yet, with the marks it has collected."""

    seq: int
    alert: Alert
    raised_at: float
    deliver: bool = True  # owed to the broker (False: kept for 'sound-monitor alerts' only)
    delivered_at: float | None = None
    cleared_at: float | None = None


@dataclass
class _Marks:
    """Marks of a journaled alert that the journal could not record yet."""

    delivered_at: float | None = None
    cleared_at: float | None = None


class Outbox:
    """The journal at ``path`` plus memory; create with :meth:`open`."""

    def __init__(
        self,
        path: Path,
        journal: Journal | None,
        *,
        memory_limit: int = MEMORY_LIMIT,
        retry_every: float = RETRY_EVERY,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._journal = journal
        self._memory_limit = memory_limit
        self._retry_every = retry_every
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._unsaved: dict[str, _Unsaved] = {}  # id -> alert, in raise order
        self._marks: dict[str, _Marks] = {}
        self._held: set[str] = set()
        self._skipped: set[str] = set()
        self._next_seq = journal.last_seq() + 1 if journal is not None else 1
        self._last_try = monotonic()
        self.generation = 0
        self.error: str | None = None
        self.dropped = 0  # alerts lost because memory was full while the journal failed
        self.moved_aside: Path | None = None

    @classmethod
    def open(cls, path: Path, **kwargs: object) -> "Outbox":
        """Open the journal at ``path``; a damaged one is moved aside, an unwritable one retried later.

        Raises :class:`~monitor.errors.UserError` only for a journal from a newer version.
        """
        outbox = cls(path, None, **kwargs)  # type: ignore[arg-type]
        with outbox._lock:
            outbox._reopen()
        return outbox

    # -- state --------------------------------------------------------------------

    @property
    def failing(self) -> bool:
        """True while alerts or marks wait in memory for the journal."""
        return self.error is not None

    def health(self) -> dict[str, object]:
        """``state`` (``ok`` or ``failing``), ``error``, ``unsaved``, ``dropped``, ``moved_aside``."""
        with self._lock:
            return {
                "state": "failing" if self.failing else "ok",
                "error": self.error,
                "unsaved": len(self._unsaved),
                "dropped": self.dropped,
                "moved_aside": str(self.moved_aside) if self.moved_aside else None,
            }

    # -- writing ------------------------------------------------------------------

    def hold(self, alert: Alert, deliver: bool = True) -> None:
        """Journal ``alert`` now but keep it back from :meth:`pending` until :meth:`append`."""
        with self._lock:
            self._held.add(alert.id)
            self._store(alert, deliver)

    def append(self, alert: Alert, deliver: bool = True) -> None:
        """Journal ``alert`` (or update a held one, e.g. with its clip path); owed to the broker if ``deliver``."""
        with self._lock:
            self._store(alert, deliver)
            self._held.discard(alert.id)

    def mark_delivered(self, alert_id: str) -> None:
        with self._lock:
            now = self._clock()
            if alert_id in self._unsaved:
                self._unsaved[alert_id].delivered_at = now
            elif not self._write(lambda j: j.mark_delivered(alert_id)):
                self._marks.setdefault(alert_id, _Marks()).delivered_at = now

    def mark_cleared(self, alert_id: str, wall_time: float) -> None:
        with self._lock:
            if alert_id in self._unsaved:
                self._unsaved[alert_id].cleared_at = wall_time
            elif not self._write(lambda j: j.mark_cleared(alert_id, wall_time)):
                self._marks.setdefault(alert_id, _Marks()).cleared_at = wall_time

    def skip(self, alert_id: str, reason: str) -> None:
        """Give up on delivering ``alert_id`` in this run: one error in the log, then it is left alone."""
        with self._lock:
            if alert_id in self._skipped:
                return
            self._skipped.add(alert_id)
        log.error("event=alert_skipped id=%s reason=%r hint=\"it stays in the journal; see 'sound-monitor alerts'\"",
                  alert_id, reason)  # fmt: skip

    def retry(self) -> None:
        """If failing and the retry interval has passed, try to write what memory holds (housekeeping calls this)."""
        with self._lock:
            if self.failing and self._monotonic() - self._last_try >= self._retry_every:
                self._flush()

    def close(self) -> None:
        with self._lock:
            if self._unsaved or self._marks:
                self._flush()
            if self._unsaved:
                log.error("event=alerts_not_saved count=%d path=%s reason=%r", len(self._unsaved), self.path, self.error)
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    # -- reading ------------------------------------------------------------------

    def pending(self, after_seq: int = 0) -> list[JournalEntry]:
        """Alerts owed to the broker with ``seq > after_seq``, oldest first; held and skipped ones left out."""
        with self._lock:
            rows: list[JournalEntry | UnreadableEntry] = []
            if self._journal is not None:
                try:
                    rows = self._journal.pending(after_seq=after_seq)
                except sqlite3.Error as exc:
                    self._failed(exc)
            owed: list[JournalEntry] = []
            for row in rows:
                if isinstance(row, UnreadableEntry):
                    self.skip(row.id, f"unreadable journal row (seq {row.seq}): {row.reason}")
                    continue
                marks = self._marks.get(row.alert.id)
                if row.alert.id in self._held or row.alert.id in self._skipped or (marks and marks.delivered_at):
                    continue
                owed.append(row)
            for item in self._unsaved.values():
                due = item.deliver and item.delivered_at is None and item.alert.id not in self._held
                if item.seq > after_seq and due:
                    owed.append(JournalEntry(item.seq, item.alert, item.raised_at, None, item.cleared_at))
            return owed

    def pending_count(self) -> int:
        """Alerts not delivered yet (held ones included, skipped ones not)."""
        with self._lock:
            count = 0
            if self._journal is not None:
                try:
                    count = self._journal.pending_count()
                except sqlite3.Error as exc:
                    self._failed(exc)
            count -= len(self._skipped) + sum(1 for m in self._marks.values() if m.delivered_at)
            return max(0, count) + sum(1 for item in self._unsaved.values() if item.deliver and item.delivered_at is None)

    # -- internals (called with the lock held) --------------------------------------

    def _store(self, alert: Alert, deliver: bool) -> None:
        if alert.id in self._unsaved:
            self._unsaved[alert.id].alert = alert
        elif self._unsaved or not self._write(lambda j: self._append(j, alert, deliver)):
            self._remember(alert, deliver)
        if self._unsaved:
            self._flush()  # keeps raise order: nothing newer is written before the older ones

    def _append(self, journal: Journal, alert: Alert, deliver: bool) -> None:
        seq = journal.append(alert, deliver)
        self._next_seq = max(self._next_seq, seq + 1)

    def _remember(self, alert: Alert, deliver: bool = True) -> None:
        self._unsaved[alert.id] = _Unsaved(self._next_seq, alert, self._clock(), deliver)
        self._next_seq += 1
        if len(self._unsaved) <= self._memory_limit:
            return
        delivered = [k for k, item in self._unsaved.items() if item.delivered_at is not None or not item.deliver]
        victim = delivered[0] if delivered else next(iter(self._unsaved))
        del self._unsaved[victim]
        if not delivered:
            self.dropped += 1
            log.error("event=alert_dropped id=%s reason=\"the journal cannot write and %d alerts wait in memory\"",
                      victim, self._memory_limit)  # fmt: skip

    def _write(self, action: Callable[[Journal], None]) -> bool:
        """Run ``action`` on the journal; False (and failing) if it could not."""
        if self._journal is None:
            return False
        try:
            action(self._journal)
        except sqlite3.Error as exc:
            self._failed(exc)
            return False
        return True

    def _failed(self, exc: sqlite3.Error) -> None:
        if is_damage(exc):
            self._replace_damaged(str(exc))
            return
        if self.error is None:
            log.error("event=journal_failing path=%s reason=%r hint=\"alerts are kept in memory and still published; "
                      "check free space\"", self.path, str(exc))  # fmt: skip
        self.error = str(exc)
        self._last_try = self._monotonic()

    def _replace_damaged(self, reason: str) -> None:
        """Carry the readable undelivered alerts over into memory, move the file aside, start afresh."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        carried = [a for a in salvage(self.path) if a.id not in self._unsaved]
        unsaved = list(self._unsaved.values())
        self._unsaved = {}
        self._next_seq = 1
        for alert in carried:
            self._remember(alert)
        for item in unsaved:  # newer than anything in the old file
            self._remember(item.alert, item.deliver)
            self._unsaved[item.alert.id].delivered_at = item.delivered_at
            self._unsaved[item.alert.id].cleared_at = item.cleared_at
        self._marks.clear()  # they were for rows of the old file
        self.generation += 1
        try:
            self.moved_aside = move_aside(self.path, self._clock())
        except OSError as exc:
            self.error = f"damaged journal cannot be moved aside: {exc.strerror or exc}"
            log.error("event=journal_damaged path=%s reason=%r hint=%r", self.path, reason, self.error)
            return
        log.error("event=journal_damaged path=%s reason=%r moved_to=%s carried_over=%d hint=\"a fresh journal "
                  "was started\"", self.path, reason, self.moved_aside, len(carried))  # fmt: skip
        self._reopen()

    def _reopen(self) -> None:
        self._last_try = self._monotonic()
        try:
            journal = Journal(self.path)
        except JournalDamaged as exc:
            self._replace_damaged(str(exc))
            return
        except JournalUnavailable as exc:
            if self.error is None:
                log.error("event=journal_failing path=%s reason=%r hint=\"alerts are kept in memory and still "
                          "published; check free space\"", self.path, str(exc))  # fmt: skip
            self.error = str(exc)
            return
        self._journal = journal
        last = journal.last_seq()
        if self._unsaved and min(item.seq for item in self._unsaved.values()) <= last:
            for item in self._unsaved.values():  # the numbers given out collide with the file's
                last += 1
                item.seq = last
            self.generation += 1
        self._next_seq = max(self._next_seq, last + 1)
        self._flush()

    def _flush(self) -> None:
        """Write memory to the journal, oldest first; stops at the first failure."""
        self._last_try = self._monotonic()
        if self._journal is None:
            self._reopen()
            return
        journal = self._journal
        try:
            while self._unsaved:
                key, item = next(iter(self._unsaved.items()))
                journal.append(item.alert, item.deliver, seq=item.seq)
                if item.delivered_at is not None:
                    journal.mark_delivered(key)
                if item.cleared_at is not None:
                    journal.mark_cleared(key, item.cleared_at)
                del self._unsaved[key]
            while self._marks:
                key, marks = next(iter(self._marks.items()))
                if marks.delivered_at is not None:
                    journal.mark_delivered(key)
                if marks.cleared_at is not None:
                    journal.mark_cleared(key, marks.cleared_at)
                del self._marks[key]
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        if self.error is not None:
            log.warning("event=journal_ok path=%s reason=\"the journal is writable again\"", self.path)
            self.error = None
