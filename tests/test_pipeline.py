"""The live loop: windows come out as soon as their audio is heard, without busy polling."""

from __future__ import annotations

import time
from pathlib import Path

from monitor.audio.file import FileSource
from monitor.audio.source import AudioBlock, AudioSource, SourceStats
from monitor.model.runner import ModelRunner
from monitor.pipeline import Pipeline
from signals import noise, write


class CountingSource(AudioSource):
    """A source that counts how often the loop asks it for audio."""

    def __init__(self, inner: AudioSource) -> None:
        super().__init__(inner.id, inner.sample_rate, inner.channels)
        self.inner, self.reads = inner, 0

    def start(self) -> None:
        self.inner.start()

    def read(self) -> AudioBlock | None:
        self.reads += 1
        return self.inner.read()

    @property
    def finished(self) -> bool:
        return self.inner.finished

    def stop(self) -> None:
        self.inner.stop()

    def stats(self) -> SourceStats:
        return self.inner.stats()


def test_a_live_source_is_read_a_few_times_per_hop_and_windows_are_not_late(tmp_path: Path, tiny_model: Path):
    rate, seconds = 22050, 8.0
    path = write(tmp_path / "room.wav", noise(seconds, rate, dbfs=-40.0), rate)
    source = CountingSource(FileSource(path, realtime=True))
    pipeline = Pipeline([source], ModelRunner(tiny_model), hop_seconds=1.0)
    lateness = []
    for prediction in pipeline.run():
        heard = prediction.wall_time + (prediction.end - prediction.start)  # when its last sample was heard
        if prediction.end <= seconds:  # not the zero-padded window after the file's end
            lateness.append(time.time() - heard)
    assert len(lateness) == 4  # windows starting at 0, 1, 2 and 3 s
    assert max(lateness) < 0.25, lateness
    # Polling every 50 ms would read ~160 times in 8 s; waiting for the next window's audio, far fewer.
    assert source.reads < 40, source.reads
