"""Text from outside (rules files, alert messages, file names, device names) made safe to show.

Takes any string; gives it with every control or otherwise invisible character (ESC,
NUL, bidi overrides, line separators, ...) written as a Python escape such as ``\\x1b``,
so a rules file cannot colour, rewrite or split lines of a terminal or a journal viewer.
"""

from __future__ import annotations


def printable(text: str, keep: str = "") -> str:
    """``text`` with non-printable characters escaped, except those in ``keep`` (e.g. ``"\\n"``)."""
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(c if c.isprintable() or c in keep else repr(c)[1:-1] for c in text)
