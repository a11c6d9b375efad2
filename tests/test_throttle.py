"""Repeated warnings: a burst per period is reported, the rest counted and told with the next report."""

from monitor.throttle import Throttle


def test_a_burst_passes_then_events_are_counted_until_the_period_ends():
    now = [0.0]
    throttle = Throttle(burst=2, period=60.0, clock=lambda: now[0])
    assert [throttle.allow() for _ in range(5)] == [(True, 0), (True, 0), (False, 0), (False, 0), (False, 0)]
    assert throttle.exhausted
    now[0] = 60.0
    assert throttle.allow() == (True, 3) and not throttle.exhausted  # the next report says 3 were held back
    assert throttle.allow() == (True, 0)
