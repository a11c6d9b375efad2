"""One-line structured log events for journald: ``level=warning event=source_down source=mic status="..."``.

Takes log records (from the daemon's :func:`event` calls and from any other module's
plain messages); gives one logfmt line per record on stderr. Under journald
(``$JOURNAL_STREAM`` set, checked at the edge) each line starts with the syslog
priority ``<N>`` so ``journalctl -p warning`` works, and the timestamp is left to the
journal; elsewhere each line starts with an ISO time. Newlines inside a message are
escaped, as is every other control character, so one event is always one line and
cannot drive the terminal it is shown on.
"""

from __future__ import annotations

import logging
import sys
import time

from monitor.textsafe import printable

PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def value(text: object) -> str:
    """A logfmt value: bare if simple, else double-quoted with escapes."""
    if isinstance(text, float):
        text = f"{text:.3f}".rstrip("0").rstrip(".") if abs(text) < 1e9 else f"{text:.3f}"
    s = str(text)
    if s and s.isprintable() and not any(c in s for c in ' ="\\'):
        return s
    # Control characters escaped too: a rules file must not colour or rewrite a terminal showing the log.
    return '"' + printable(s.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def fields(**items: object) -> str:
    return " ".join(f"{key}={value(v)}" for key, v in items.items() if v is not None)


def event(logger: logging.Logger, level: int, name: str, **items: object) -> None:
    """Log one event: ``event=<name>`` followed by its fields."""
    if logger.isEnabledFor(level):
        logger.log(level, "event=%s %s", name, fields(**items))


class LogfmtFormatter(logging.Formatter):
    def __init__(self, journald: bool) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        head = f"level={record.levelname.lower()}"
        if message.startswith("event="):
            body = printable(message.rstrip())  # fields are escaped already; this catches a traceback's lines
        else:
            body = f"logger={record.name} msg={value(message)}"
        if self.journald:
            return f"<{PRIORITY.get(record.levelno, 6)}>{head} {body}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        return f"ts={stamp} {head} {body}"


def configure(level: str, journald: bool) -> None:
    """Route every logger to stderr as logfmt at ``level`` (replaces the CLI's plain format)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(journald))
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
    logging.getLogger("monitor.mqtt.paho").setLevel(max(LEVELS[level], logging.INFO))  # packet-level chatter
