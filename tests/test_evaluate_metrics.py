"""Clip- and event-level metrics on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.errors import UserError
from monitor.evaluate.clip_metrics import (
    best_threshold, clip_scores, collapse, confusion, macro_f1, per_class, threshold_scores,
)
from monitor.evaluate.events import (
    Detection, Event, LabelResult, background_hours, match, merge, read_annotations, write_annotations,
)
from monitor.evaluate.report import clip_report


def test_confusion_and_per_class_scores():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    m = confusion(y_true, y_pred, 3)
    assert m.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    a, b, c = per_class(m, ("a", "b", "c"))
    assert (a.precision, a.recall) == (1.0, 2 / 3)
    assert (b.precision, b.recall) == (0.5, 0.5)
    assert (c.precision, c.recall, c.f1) == (0.5, 1.0, pytest.approx(2 / 3))
    assert macro_f1(y_true, y_pred, 3) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_macro_f1_ignores_labels_absent_from_the_truth():
    assert macro_f1(np.array([0, 0]), np.array([0, 0]), 5) == 1.0


def test_clip_scores_average_the_windows_of_each_clip():
    windows = np.array([[1.0, 0.0], [0.0, 1.0], [0.2, 0.8]])
    assert clip_scores(windows, np.array([0, 0, 1])).tolist() == [[0.5, 0.5], [0.2, 0.8]]


def test_best_threshold_separates_positives_from_negatives():
    scores = np.array([0.95, 0.85, 0.6, 0.5, 0.3])
    positive = np.array([True, True, True, False, False])
    assert 0.5 < best_threshold(scores, positive) <= 0.6
    assert best_threshold(scores, np.zeros(5, bool)) == 0.5


def test_scores_at_threshold_are_one_vs_rest():
    scores = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 1])
    first, second = threshold_scores(scores, y, ("a", "b"), {"a": 0.5, "b": 0.35})
    assert (first.precision, first.recall) == (0.5, 1.0)
    assert (second.precision, second.recall) == (1.0, 1.0)
    report = clip_report("t", scores, y, ("a", "b"), {"a": 0.5})
    assert report.accuracy == pytest.approx(2 / 3)
    assert "| a | 1 |" in report.markdown()


def test_a_detection_inside_an_event_is_a_hit_with_its_latency():
    events = [Event(10.0, 11.0, "glass"), Event(40.0, 42.0, "glass")]
    result, hit = match(events, [Detection("glass", 10.6), Detection("glass", 12.0), Detection("glass", 30.0)])
    r = result["glass"]
    # 12.0 repeats the first event (within offset + 5 s): not a second hit, not a false alarm.
    assert (r.events, r.detected, r.false_alarms) == (2, 1, 1)
    assert r.latencies == [pytest.approx(0.6)]
    assert hit == [True, False]
    assert r.recall == 0.5


def test_a_hit_scores_its_estimated_onset_against_the_annotated_one():
    events = [Event(10.0, 11.0, "glass"), Event(40.0, 42.0, "glass"), Event(60.0, 62.0, "glass")]
    detections = [Detection("glass", 11.5, onset=10.3), Detection("glass", 41.0, onset=38.9), Detection("glass", 61.0)]
    a, _ = match(events, detections)
    b, _ = match([Event(5.0, 6.0, "glass")], [Detection("glass", 6.0, onset=5.5)])
    r = merge([a, b])["glass"]
    # The third alert had no estimate: a hit with a latency, but no onset error.
    assert r.latencies == [pytest.approx(1.5), pytest.approx(1.0), pytest.approx(1.0), pytest.approx(1.0)]
    assert r.onset_errors == [pytest.approx(0.3), pytest.approx(-1.1), pytest.approx(0.5)]
    assert r.median_onset_error == pytest.approx(0.3)
    assert r.onsets_within == pytest.approx(2 / 3)  # 0.5 s off still counts
    assert LabelResult("dog").onsets_within is None and LabelResult("dog").median_onset_error is None


def test_a_detection_of_the_wrong_label_is_a_false_alarm_and_a_miss():
    result, hit = match([Event(5.0, 6.0, "glass")], [Detection("gunshot", 5.5)])
    assert result["glass"].detected == 0 and result["glass"].events == 1
    assert result["gunshot"].false_alarms == 1
    assert hit == [False]


def test_a_late_detection_after_the_tolerance_is_a_false_alarm():
    result, _ = match([Event(5.0, 6.0, "dog")], [Detection("dog", 11.5)], tolerance=5.0)
    assert (result["dog"].detected, result["dog"].false_alarms) == (0, 1)


def test_results_of_recordings_add_up():
    a, _ = match([Event(1, 2, "x")], [Detection("x", 1.5)])
    b, _ = match([Event(1, 2, "x")], [Detection("x", 50)])
    total = merge([a, b])["x"]
    assert (total.events, total.detected, total.false_alarms) == (2, 1, 1)


def test_background_time_excludes_event_time_once():
    events = [Event(10, 20, "a"), Event(15, 25, "b"), Event(3590, 3700, "c")]
    assert background_hours(3600, events) == pytest.approx((3600 - 15 - 10) / 3600)


def test_annotations_round_trip_and_bad_rows_are_user_errors(tmp_path):
    path = tmp_path / "a.csv"
    events = [Event(1.0, 2.5, "glass", -6.0), Event(3.0, 4.0, "dog", 6.0)]
    write_annotations(path, events)
    assert read_annotations(path) == events
    path.write_text("1.0,2.0,glass\n3,4,dog\n")
    assert read_annotations(path) == [Event(1.0, 2.0, "glass"), Event(3.0, 4.0, "dog")]
    path.write_text("onset_s,offset_s,label\n5,4,glass\n")
    with pytest.raises(UserError, match=r"a.csv:2: need 0 <= onset <= offset"):
        read_annotations(path)
    path.write_text("one,two,glass\n")
    with pytest.raises(UserError, match="must be numbers"):
        read_annotations(path)


def test_collapse_merges_background_labels_and_sums_their_scores():
    scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    new_scores, y, labels = collapse(scores, np.array([1, 2]), ("glass", "hum", "rain"), {"hum", "rain"})
    assert labels == ("glass", "any_background")
    assert np.allclose(new_scores, [[0.5, 0.5], [0.1, 0.9]])
    assert y.tolist() == [1, 1]
