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
    while not stream.done:
        out += stream.finish()
    return out


@pytest.mark.parametrize(
    "seconds, hop, count",
    [
        (12.0, 1.0, 12),  # starts 0..11 s: windows go on past the end, as live audio would
        (12.5, 1.0, 13),
        (10.0, 0.25, 40),  # starts 0, 0.25 .. 9.75
        (10.0, 5.0, 2),
        (2.9, 1.0, 3),  # shorter than a window: starts 0, 1, 2, each holding the whole clip
    ],
)
def test_windows_go_on_until_the_last_sample_has_started_a_window(seconds, hop, count):
    windows = windows_of(seconds, hop)
    assert len(windows) == count
    assert windows[-1].span.start < seconds <= windows[-1].span.start + hop + 512 / RATE  # frame-grid slack


@pytest.mark.parametrize("hop", [0.5, 1.0, 2.5])
def test_the_last_seconds_of_a_recording_are_in_as_many_windows_as_live_audio_gives_them(hop):
    windows = windows_of(12.3, hop)
    per_sample = round(5.0 / hop)  # a live stream puts every sample in window / hop windows
    for second in (6.3, 11.3, 12.29):  # away from window edges, which snap to the frame grid
        holding = [w for w in windows if w.span.start <= second < w.span.end]
        assert len(holding) == per_sample, (second, [w.span.start for w in holding])


def test_the_padding_after_the_end_does_not_lower_a_windows_level():
    levels = [w.level_dbfs for w in windows_of(8.0, 1.0)]
    assert levels == pytest.approx([levels[0]] * len(levels), abs=0.01)  # a constant signal, to the end


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
