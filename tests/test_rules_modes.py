"""Modes: schedule across midnight and DST, explicit requests and their precedence."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.rules.modes import ModeController
from rules_support import alerts, engine, ruleset, run

BERLIN = ZoneInfo("Europe/Berlin")


def at(*args: int, fold: int = 0) -> float:
    return datetime(*args, tzinfo=BERLIN, fold=fold).timestamp()


def controller(schedule: str, default: str = "home") -> ModeController:
    rules = ruleset(f"""
    timezone: Europe/Berlin
    mode: {default}
    schedule:
{schedule}
    rules:
      - {{name: r, sound: speech}}
    """)
    return ModeController(rules.default_mode, rules.schedule, BERLIN)


WEEKNIGHTS = """
      - {mode: night, days: [mon, tue, wed, thu], from: "23:00", to: "06:30"}
"""


def test_a_night_period_runs_past_midnight_and_belongs_to_the_day_it_starts():
    modes = controller(WEEKNIGHTS)
    # 2026-06-01 is a Monday.
    assert modes.mode(at(2026, 6, 1, 22, 59)) == "home"
    assert modes.mode(at(2026, 6, 1, 23, 0)) == "night"
    assert modes.mode(at(2026, 6, 2, 3, 0)) == "night"   # Tuesday morning, Monday's period
    assert modes.mode(at(2026, 6, 2, 6, 29)) == "night"
    assert modes.mode(at(2026, 6, 2, 6, 30)) == "home"
    assert modes.mode(at(2026, 6, 5, 3, 0)) == "night"   # Friday morning: Thursday's period
    assert modes.mode(at(2026, 6, 5, 23, 30)) == "home"  # Friday night: not listed
    assert modes.mode(at(2026, 6, 1, 3, 0)) == "home"    # Monday morning: Sunday not listed


def test_the_schedule_follows_the_local_clock_when_dst_starts():
    modes = controller("""
      - {mode: night, from: "23:00", to: "06:30"}
    """)
    # Night of 28-29 March 2026: clocks jump from 02:00 to 03:00.
    start, end = at(2026, 3, 28, 23, 0), at(2026, 3, 29, 6, 30)
    assert end - start == timedelta(hours=7.5 - 1).total_seconds()
    assert modes.mode(start) == "night" and modes.mode(end - 1) == "night"
    assert modes.mode(end) == "home"
    assert modes.mode(at(2026, 3, 29, 3, 0)) == "night"


def test_the_schedule_follows_the_local_clock_when_dst_ends():
    modes = controller("""
      - {mode: away, from: "02:00", to: "02:30"}
    """)
    # 25 October 2026: 02:00-03:00 happens twice; both 02:15s are inside the period.
    first, second = at(2026, 10, 25, 2, 15, fold=0), at(2026, 10, 25, 2, 15, fold=1)
    assert second - first == 3600
    assert modes.mode(first) == "away" and modes.mode(second) == "away"
    assert modes.mode(at(2026, 10, 25, 2, 45, fold=0)) == "home"


def test_an_explicit_mode_lasts_until_the_next_schedule_boundary():
    modes = controller(WEEKNIGHTS)
    modes.set("away", at(2026, 6, 1, 20, 0))
    assert modes.state(at(2026, 6, 1, 22, 59)).mode == "away"
    assert modes.state(at(2026, 6, 1, 22, 59)).reason == "override"
    assert modes.state(at(2026, 6, 1, 23, 0)).mode == "night"  # the night period starts: schedule again
    assert modes.state(at(2026, 6, 2, 7, 0)).reason == "default"


def test_an_explicit_mode_inside_a_period_lasts_until_that_period_ends():
    modes = controller(WEEKNIGHTS)
    modes.set("home", at(2026, 6, 2, 1, 0))
    assert modes.mode(at(2026, 6, 2, 6, 29)) == "home"
    assert modes.state(at(2026, 6, 2, 6, 30)).reason == "default"
    assert modes.mode(at(2026, 6, 2, 23, 0)) == "night"


def test_a_held_mode_ignores_the_schedule_until_resumed():
    modes = controller(WEEKNIGHTS)
    modes.set("away", at(2026, 6, 1, 20, 0), hold=True)
    assert modes.state(at(2026, 6, 2, 3, 0)).mode == "away"
    assert modes.state(at(2026, 6, 9, 3, 0)).reason == "held"
    modes.resume()
    assert modes.mode(at(2026, 6, 9, 3, 0)) == "night"


def test_without_a_schedule_an_explicit_mode_stays():
    modes = ModeController("home")
    modes.set("away", 0.0)
    assert modes.state(10**9).mode == "away"


def test_the_engine_takes_its_mode_from_the_schedule_at_each_windows_wall_time():
    eng = engine("""
    timezone: Europe/Berlin
    schedule:
      - {mode: night, from: "23:00", to: "06:30"}
    rules:
      - {name: baby, sound: baby_cry, modes: [night], severity: info}
    """)
    crying = [{"baby_cry": 0.9}] * 3
    assert run(eng, crying, t0=at(2026, 6, 1, 21, 0), source="a") == []
    (_, alert), = alerts(run(eng, crying, t0=at(2026, 6, 1, 23, 30), source="b"))
    assert alert.mode == "night"
