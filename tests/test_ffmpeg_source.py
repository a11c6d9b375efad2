"""The ffmpeg source decodes files and streams, and comes back after ffmpeg dies."""

import shutil
import time

import numpy as np
import pytest

from monitor.audio.ffmpeg import FfmpegSource
from monitor.errors import AudioInputError
from signals import rms_dbfs, tone, write

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
RATE = 22050


def drain(source: FfmpegSource, seconds: float) -> np.ndarray:
    blocks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline and not source.finished:
        block = source.read()
        if block is None:
            time.sleep(0.01)
        else:
            blocks.append(block.samples[:, 0])
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def test_a_stereo_48k_file_arrives_as_mono_at_the_model_rate(tmp_path):
    stereo = np.stack([tone(1000, 3.0, 48000), tone(1000, 3.0, 48000)], axis=1)
    path = write(tmp_path / "clip.flac", stereo, 48000)
    source = FfmpegSource(str(path), RATE)
    source.start()
    audio = drain(source, 20)
    source.stop()
    assert source.finished
    assert abs(len(audio) - 3 * RATE) < RATE * 0.01
    # ffmpeg downmixes by summing channels at -3 dB: two identical -15.05 dBFS channels give -12.04.
    assert rms_dbfs(audio[RATE:-RATE]) == pytest.approx(-12.04, abs=0.2)


def test_a_killed_ffmpeg_is_restarted_and_audio_keeps_flowing(tmp_path):
    path = write(tmp_path / "long.wav", tone(500, 30.0, RATE), RATE)
    source = FfmpegSource(str(path), RATE, realtime=True)
    source.start()
    try:
        before = drain(source, 1.5)
        source.kill_process()
        after = drain(source, 4.0)  # first restart comes after 1 s of backoff
        stats = source.stats()
    finally:
        source.stop()
    assert len(before) > 0.5 * RATE
    assert stats.restarts == 1
    assert len(after) > 1.0 * RATE
    assert stats.ok, stats.status


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AudioInputError, match="no such file"):
        FfmpegSource(str(tmp_path / "nothing.wav"), RATE)


@pytest.mark.parametrize("rate", [100, 1_000_000])
def test_a_decoding_rate_outside_8k_to_384k_is_a_clear_error(tmp_path, rate):
    clip = write(tmp_path / "t.wav", tone(440, 1.0, RATE), RATE)
    with pytest.raises(AudioInputError, match=f"t.wav: the decoded rate: sample rate {rate} Hz is outside the supported"):
        FfmpegSource(str(clip), rate)
