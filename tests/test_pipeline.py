"""The live loop: windows come out as soon as their audio is heard, without busy polling."""

from __future__ import annotations

import logging
import time
from pathlib import Path


from monitor.audio.file import FileSource
from monitor.audio.paced import ArraySource
from monitor.audio.source import ObservedSource
from monitor.model.runner import ModelRunner
from monitor.pipeline import Pipeline
from signals import noise, tone, write
from tiny_model import nan_model


def test_a_live_source_is_read_a_few_times_per_hop_and_windows_are_not_late(tmp_path: Path, tiny_model: Path):
    rate, seconds = 22050, 8.0
    path = write(tmp_path / "room.wav", noise(seconds, rate, dbfs=-40.0), rate)
    reads = 0

    def count() -> None:
        nonlocal reads
        reads += 1

    source = ObservedSource(FileSource(path, realtime=True), count)
    pipeline = Pipeline([source], ModelRunner(tiny_model), hop_seconds=1.0)
    lateness = []
    for prediction in pipeline.run():
        heard = prediction.wall_time + (prediction.end - prediction.start)  # when its last sample was heard
        if prediction.end <= seconds:  # not the zero-padded window after the file's end
            lateness.append(time.time() - heard)
    assert len(lateness) == 4  # windows starting at 0, 1, 2 and 3 s
    assert max(lateness) < 0.25, lateness
    # Polling every 50 ms would read ~160 times in 8 s; waiting for the next window's audio, far fewer.
    assert reads < 40, reads


def test_nan_scores_are_an_error_in_the_log_and_the_stats_not_a_silent_nothing(tmp_path: Path, tiny_model: Path,
                                                                             caplog):
    rate = 22050
    source = ArraySource("room", tone(300, 8.0, rate), rate)
    pipeline = Pipeline([source], ModelRunner(nan_model(tiny_model, tmp_path / "nan.onnx")), hop_seconds=1.0)
    with caplog.at_level(logging.ERROR):
        predictions = list(pipeline.run())
    assert predictions and all(p.skipped and not p.scores for p in predictions)
    stats = pipeline.stats()
    assert stats.invalid_scores == len(predictions) and not stats.model_ok
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["room: the model gave NaN or inf scores for the window at 0.0 s; such windows are not "
                      "analysed (check the model's metadata or retrain it)"]  # once, not once per window
