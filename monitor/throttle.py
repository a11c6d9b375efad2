"""Rate limiting for repeated warnings, so a flood of bad input cannot flood the log.

Takes a burst size and a period; gives :class:`Throttle`, whose :meth:`~Throttle.allow`
lets the first ``burst`` events of each period be reported and counts the rest, so the
next report can say how many were held back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Throttle:
    burst: int = 10
    period: float = 60.0  # seconds
    clock: Callable[[], float] = time.monotonic
    _start: float = field(default=-math.inf, init=False)
    _passed: int = field(default=0, init=False)
    _held: int = field(default=0, init=False)

    def allow(self) -> tuple[bool, int]:
        """Whether to report this event, and how many were held back since the last reported one."""
        now = self.clock()
        if now - self._start >= self.period:
            self._start, self._passed = now, 0
        if self._passed >= self.burst:
            self._held += 1
            return False, 0
        self._passed += 1
        held, self._held = self._held, 0
        return True, held

    @property
    def exhausted(self) -> bool:
        """True once this period's burst is used up (the last report may say so)."""
        return self._passed >= self.burst
