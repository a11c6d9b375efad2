"""Units a home owner writes in rules.yaml: durations, times of day, weekdays, N-of-M.

Takes the raw text of one YAML scalar; gives seconds, minutes since midnight, a
weekday number or a (hits, of) pair, or raises ``ValueError`` with a short
explanation that the loader turns into a ``file:line: problem (hint)`` message.
The raw text is used, not YAML's own typing, so ``23:00`` is a time (YAML 1.1
would read it as the base-60 integer 1380) and ``no`` is not ``False``.
"""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_N_OF_M = re.compile(r"^\s*(\d{1,6})\s+of\s+(\d{1,6})\s*$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Longer than this is surely a typo (and keeps arithmetic far from overflow).
MAX_SECONDS = 7 * 24 * 3600.0


def parse_duration(text: str) -> float:
    """``"90"``, ``"1.5s"``, ``"2m"``, ``"1m30s"``, ``"1h"`` -> seconds (>= 0)."""
    try:
        seconds = float(text)
    except ValueError:
        match = _DURATION.match(text)
        if not match or not any(match.groups()):
            raise ValueError("not a duration") from None
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = h * 3600 + m * 60 + s
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("must be a finite, non-negative duration")
    if seconds > MAX_SECONDS:
        raise ValueError("longer than 7 days")
    return seconds


def parse_time_of_day(text: str) -> int:
    """``"23:00"`` -> minutes since midnight (``"24:00"`` is the end of the day)."""
    match = _TIME.match(text)
    if not match:
        raise ValueError("not a time of day")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError("not a valid time of day")
    return hours * 60 + minutes


def parse_time_range(text: str) -> tuple[int, int]:
    """``"22:00-06:00"`` -> (start, end) minutes since midnight; may cross midnight."""
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError("not a time range")
    start, end = parse_time_of_day(parts[0]), parse_time_of_day(parts[1])
    if start == end:
        raise ValueError("start and end are equal (an empty range)")
    return start, end


def parse_weekday(text: str) -> int:
    """``"mon"``/``"Monday"`` -> 0 ... ``"sun"`` -> 6."""
    key = text.strip().lower()
    for number, name in enumerate(WEEKDAYS):
        if len(key) >= 3 and name.startswith(key):
            return number
    raise ValueError("not a weekday")


def parse_n_of_m(text: str) -> tuple[int, int]:
    """``"2 of 3"`` -> (2, 3): at least 2 of the last 3 windows."""
    match = _N_OF_M.match(text)
    if not match:
        raise ValueError("not of the form 'N of M'")
    hits, of = int(match.group(1)), int(match.group(2))
    if hits < 1 or of < hits:
        raise ValueError("needs 1 <= N <= M")
    return hits, of
