"""The ffmpeg source decodes files and streams, and comes back after ffmpeg dies."""

import shutil
import socket
import threading
import time

import numpy as np
import pytest

from monitor.audio.ffmpeg import NO_AUDIO_GRACE, FfmpegSource
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


class SilentServer:
    """An HTTP server on loopback that answers ``200 audio/wav`` and then sends nothing."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/live.wav"
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            client.recv(4096)
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\n\r\n")
            self._clients.append(client)  # held open, silent

    def close(self) -> None:
        self._sock.close()
        for client in self._clients:
            client.close()


def test_a_stream_that_connects_but_sends_nothing_is_down_and_says_no_audio(caplog):
    server = SilentServer()
    source = FfmpegSource(server.url, RATE, stall_seconds=4)
    source.start()
    try:
        deadline = time.monotonic() + 2
        while source.stats().status != "connecting" and time.monotonic() < deadline:
            time.sleep(0.02)  # until the reader thread has started ffmpeg
        assert source.stats().ok and source.stats().status == "connecting"
        time.sleep(NO_AUDIO_GRACE + 0.5)
        stats = source.stats()
        assert not stats.ok and stats.status.startswith("no audio for "), stats.status
        deadline = time.monotonic() + 10
        while "ffmpeg stopped" not in caplog.text and time.monotonic() < deadline:
            source.read()  # read() notices the stall and kills ffmpeg
            time.sleep(0.1)
    finally:
        source.stop()
        server.close()
    assert "ffmpeg stopped (no audio for 4 s)" in caplog.text


@pytest.mark.parametrize("rate", [100, 1_000_000])
def test_a_decoding_rate_outside_8k_to_384k_is_a_clear_error(tmp_path, rate):
    clip = write(tmp_path / "t.wav", tone(440, 1.0, RATE), RATE)
    with pytest.raises(AudioInputError, match=f"t.wav: the decoded rate: sample rate {rate} Hz is outside the supported"):
        FfmpegSource(str(clip), rate)
