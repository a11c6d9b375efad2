"""Windows: how many, where they start, and what time they carry."""

import numpy as np
import pytest

from monitor.audio.paced import ArraySource
from monitor.features.params import FeatureParams
from monitor.stream.source_stream import SourceStream
from monitor.stream.windower import Windower

RATE = 22050


def windows_of(seconds: float, hop: float, rate: int = RATE):
    stream = SourceStream("test", rate, FeatureParams(), hop)
    source = ArraySource("test", np.full(int(seconds * rate), 0.01, np.float32), rate, block_seconds=0.37)
    source.start()
    out = []
    while (block := source.read()) is not None:
        out += stream.push(block)
    return out + stream.finish()


@pytest.mark.parametrize(
    "seconds, hop, count",
    [
        (12.0, 1.0, 8),  # starts 0..7 s; the window at 7 s ends at 12 s
        (12.5, 1.0, 9),  # one more, zero-padded, so the last 0.5 s is heard
        (10.0, 0.25, 21),  # starts 0, 0.25 .. 5.0
        (10.0, 5.0, 2),
        (1.0, 1.0, 1),  # shorter than a window: one padded window
    ],
)
def test_window_count_covers_the_whole_recording(seconds, hop, count):
    windows = windows_of(seconds, hop)
    assert len(windows) == count
    assert windows[-1].span.end >= seconds - 512 / RATE  # starts snap to the 512-sample frame grid


def test_windows_start_a_hop_apart_on_the_frame_grid():
    windows = windows_of(30.0, 1.0)
    starts = np.array([w.span.start for w in windows])
    # Starts snap to the 512-sample frame grid, never more than half a frame from k * hop.
    assert np.abs(starts - np.arange(len(starts))).max() <= 256 / RATE
    assert all(w.span.start_sample % 512 == 0 for w in windows)
    assert all(w.span.end - w.span.start == pytest.approx(5.0) for w in windows)


def test_windows_carry_wall_clock_time_of_their_first_sample():
    stream = SourceStream("test", RATE, FeatureParams(), 1.0)
    from monitor.audio.source import AudioBlock

    t0 = 1_700_000_000.0
    windows = []
    for k in range(8):
        windows += stream.push(AudioBlock(np.zeros((RATE, 1), np.float32), t0 + k))
    assert windows
    for w in windows:
        assert w.wall_time == pytest.approx(t0 + w.span.start, abs=1e-6)


def test_hop_outside_the_allowed_range_is_refused():
    with pytest.raises(ValueError, match="hop"):
        Windower(FeatureParams(), 0.1)
    with pytest.raises(ValueError, match="hop"):
        Windower(FeatureParams(), 6)


def test_window_level_is_rms_dbfs():
    windows = windows_of(6.0, 1.0)
    assert windows[0].level_dbfs == pytest.approx(-40.0, abs=0.01)  # constant 0.01 = -40 dBFS
