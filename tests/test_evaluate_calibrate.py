"""Threshold calibration for a false-alarm budget, on hand-made score tracks."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.evaluate.calibrate import (StreamScores, calibrate, compare_persistence, false_alarms, persistence_table,
                                        rule_persistence, write_thresholds)
from monitor.evaluate.events import Event
from monitor.model.runner import ModelRunner
from monitor.rules.loader import parse_rules
from monitor.rules.schema import Persistence
from tiny_model import make_tiny_model, tiny_metadata


def track() -> StreamScores:
    """One hour: a glass event at 100-101 s scoring 0.9, and background bumps of 0.5 and 0.7."""
    ends = np.arange(5.0, 3600.0, 0.5)
    glass = np.full(len(ends), 0.1)
    glass[(ends >= 100.5) & (ends <= 104)] = 0.9
    glass[(ends >= 1000) & (ends <= 1001)] = 0.5
    glass[(ends >= 2000) & (ends <= 2001)] = 0.7
    glass[(ends >= 3000) & (ends <= 3001)] = 0.5
    return StreamScores(ends, np.stack([glass, 1 - glass], axis=1), [Event(100.0, 101.0, "glass")], 3600.0)


def test_false_alarms_count_crossings_outside_the_events():
    s = track()
    assert false_alarms(s, 0, "glass", 0.4) == (3, 1)
    assert false_alarms(s, 0, "glass", 0.6) == (1, 1)
    assert false_alarms(s, 0, "glass", 0.95) == (0, 0)


def test_calibration_picks_the_lowest_threshold_within_the_budget():
    s = track()
    chosen = calibrate([s], ("glass", "other"), {"glass"}, {"glass": 0.3}, max_per_hour=1.01)
    t, fa, recall = chosen["glass"]
    assert 0.5 < t <= 0.51 and recall == 1.0
    assert fa == pytest.approx(1.0, abs=0.01)  # one false alarm in the hour (less the 1-s event)
    assert calibrate([s], ("glass", "other"), {"glass"}, {"glass": 0.3}, max_per_hour=0.5)["glass"][0] == pytest.approx(0.71)
    # Never below the floor.
    assert calibrate([s], ("glass", "other"), {"glass"}, {"glass": 0.8}, max_per_hour=5)["glass"][0] == pytest.approx(0.8)


def flickering() -> StreamScores:
    """One hour: a glass event at 100-102 s scoring 0.9 for 4 windows, and single-window background flickers of 0.8."""
    ends = np.arange(5.0, 3600.0, 0.5)
    glass = np.full(len(ends), 0.1)
    glass[(ends >= 100.5) & (ends <= 102)] = 0.9
    for t in (1000.0, 2000.0, 3000.0):
        glass[ends == t] = 0.8
    return StreamScores(ends, np.stack([glass, 1 - glass], axis=1), [Event(100.0, 102.0, "glass")], 3600.0)


def test_a_persistent_detector_ignores_what_a_single_window_raises():
    s = flickering()
    assert false_alarms(s, 0, "glass", 0.5) == (3, 1)
    assert false_alarms(s, 0, "glass", 0.5, Persistence(2, 3)) == (0, 1)
    assert false_alarms(s, 0, "glass", 0.5, Persistence(5, 6)) == (0, 0)  # the event has only 4 windows
    assert false_alarms(s, 0, "glass", 0.5, Persistence(duration=1.5)) == (0, 1)
    assert false_alarms(s, 0, "glass", 0.5, Persistence(duration=2.0)) == (0, 0)


def test_calibrating_for_the_rules_persistence_allows_a_lower_threshold():
    s = flickering()
    alone = calibrate([s], ("glass", "other"), {"glass"}, {"glass": 0.3}, max_per_hour=0.5)
    assert alone["glass"][0] == pytest.approx(0.81)
    persistent = calibrate([s], ("glass", "other"), {"glass"}, {"glass": 0.3}, max_per_hour=0.5,
                           persistence={"glass": Persistence(2, 3)})
    assert persistent["glass"][0] == pytest.approx(0.3) and persistent["glass"][2] == 1.0


def test_a_label_takes_the_most_easily_met_persistence_of_the_rules_watching_it():
    text = b"""version: 1
groups:
  either: [glass, other]
rules:
  - {name: a, sound: glass, persistence: 3 of 4}
  - {name: b, sound: either, persistence: 2 of 3}
  - {name: c, sound: other, persistence: 2 of 5}
"""
    rules = parse_rules(text, "rules.yaml", ("glass", "other"))
    assert rule_persistence(rules) == {"glass": Persistence(2, 3), "other": Persistence(2, 5)}


def test_thresholds_are_written_into_the_model_metadata(tmp_path):
    path = make_tiny_model(tmp_path / "m.onnx", tiny_metadata())
    write_thresholds(path, {"high": 0.83})
    md = ModelRunner(path).metadata
    assert md.thresholds == {"low": 0.5, "high": 0.83}
    assert md.info["name"] == "tiny-test-model"


def test_comparing_persistence_shows_which_one_finds_more_events_within_the_budget():
    # Background flickers to 0.95 in single windows; a short event scores 0.9 in one window,
    # a long one in four. A one-window detector must sit above the flickers and finds
    # neither; 2 of 3 ignores the flickers and finds the long event at the floor.
    ends = np.arange(5.0, 3600.0, 0.5)
    glass = np.full(len(ends), 0.1)
    glass[ends == 100.5] = 0.9
    glass[(ends >= 500.5) & (ends <= 502)] = 0.9
    for t in (1000.0, 2000.0, 3000.0):
        glass[ends == t] = 0.95
    s = StreamScores(ends, np.stack([glass, 1 - glass], axis=1), [Event(100.0, 100.5, "glass"), Event(500.0, 502.0, "glass")], 3600.0)
    rows = {p.describe(): (t, recall) for p, t, _, recall in
            compare_persistence([s], ("glass", "other"), {"glass"}, {"glass": 0.5}, 0.5, (Persistence(1, 1), Persistence(2, 3)))["glass"]}
    assert rows["1 of 1"] == (pytest.approx(0.96), 0.0)
    assert rows["2 of 3"] == (pytest.approx(0.5), 0.5)


def test_the_persistence_table_bolds_the_best_within_the_budget_and_marks_what_overruns_it():
    one, two = Persistence(1, 1), Persistence(2, 3)
    lines = persistence_table({"glass": [(one, 0.98, 3.0, 0.6), (two, 0.5, 0.4, 0.5)],
                               "smoke": [(one, 0.65, 0.0, 0.8), (two, 0.65, 0.0, 0.8)]}, budget=0.5)
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines if line.startswith("| ")}
    assert rows["label"] == ["1 of 1", "2 of 3"]
    assert rows["glass"] == ["over: 3.0/h at 0.98", "**0.50** (0.50)"]  # the higher recall broke the budget
    assert rows["smoke"] == ["**0.80** (0.65)", "**0.80** (0.65)"]  # a tie: both best
