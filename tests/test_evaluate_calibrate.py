"""Threshold calibration for a false-alarm budget, on hand-made score tracks."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.evaluate.calibrate import StreamScores, calibrate, false_alarms, write_thresholds
from monitor.evaluate.events import Event
from monitor.model.runner import ModelRunner
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


def test_thresholds_are_written_into_the_model_metadata(tmp_path):
    path = make_tiny_model(tmp_path / "m.onnx", tiny_metadata())
    write_thresholds(path, {"high": 0.83})
    md = ModelRunner(path).metadata
    assert md.thresholds == {"low": 0.5, "high": 0.83}
    assert md.info["name"] == "tiny-test-model"
