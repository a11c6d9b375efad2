"""The ring buffer keeps the newest samples, maps them to wall-clock time and counts losses."""

import numpy as np
import pytest

from monitor.stream.ring import RingBuffer, RingReader


def test_reads_back_any_held_range_by_sample_index():
    ring = RingBuffer(100, sample_rate=10)
    ring.write(np.arange(70, dtype=np.float32))
    ring.write(np.arange(70, 150, dtype=np.float32))
    assert ring.start == 50 and ring.end == 150
    assert ring.read(95, 105)[:, 0].tolist() == list(range(95, 105))  # across the wrap


def test_overwritten_or_future_samples_are_not_readable():
    ring = RingBuffer(100, sample_rate=10)
    ring.write(np.zeros(250, np.float32))
    with pytest.raises(IndexError):
        ring.read(100, 160)
    with pytest.raises(IndexError):
        ring.read(240, 260)


def test_memory_never_grows_with_large_writes():
    ring = RingBuffer(64, sample_rate=10)
    ring.write(np.arange(1000, dtype=np.float32))
    assert ring.read(936, 1000)[:, 0].tolist() == list(range(936, 1000))
    assert ring._data.shape == (64, 1)


def test_wall_clock_anchor_maps_samples_to_time():
    ring = RingBuffer(1000, sample_rate=100)
    ring.write(np.zeros(100, np.float32), wall_time=1000.0)
    ring.write(np.zeros(100, np.float32), wall_time=1001.5)  # a gap: the anchor moves with it
    assert ring.time_of(150) == pytest.approx(1002.0)


def test_reader_gets_each_sample_once_and_counts_what_it_missed():
    ring = RingBuffer(100, sample_rate=10)
    reader = RingReader(ring)
    ring.write(np.arange(30, dtype=np.float32))
    start, data = reader.read_new()
    assert start == 0 and len(data) == 30
    assert len(reader.read_new()[1]) == 0
    ring.write(np.arange(30, 280, dtype=np.float32))  # laps the reader
    start, data = reader.read_new()
    assert start == 180 and data[0, 0] == 180
    assert reader.dropped == 150


def test_multichannel_blocks_keep_their_channels():
    ring = RingBuffer(10, sample_rate=10, channels=2)
    ring.write(np.array([[1, 2], [3, 4]], np.float32))
    assert ring.read(0, 2).tolist() == [[1, 2], [3, 4]]
