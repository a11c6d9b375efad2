"""Local time for schedules: Unix time -> the wall-clock time where the box is.

Takes a Unix time and an optional IANA zone name; gives an aware local datetime.
With no zone the system's local zone is used, resolved per instant so DST changes
are honoured.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo


def zone(name: str | None) -> tzinfo | None:
    return ZoneInfo(name) if name else None


def local_time(unix_time: float, tz: tzinfo | None) -> datetime:
    if tz is None:
        return datetime.fromtimestamp(unix_time).astimezone()
    return datetime.fromtimestamp(unix_time, tz)
