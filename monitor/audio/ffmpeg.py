"""Any stream or format ffmpeg can decode: rtsp://, http(s)://, camera audio, odd files.

Takes a URL or path; runs ``ffmpeg`` to decode it to mono float32 PCM at the
model's rate (ffmpeg's soxr resampler; ffmpeg's own downmix, which sums channels at
-3 dB) on a pipe, read by a thread into a bounded
queue; gives those blocks. A live stream whose ffmpeg dies or stalls is restarted
with exponential backoff; a local file ends when ffmpeg finishes it cleanly.
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from monitor.audio.source import AudioBlock, AudioSource, SourceStats, check_sample_rate, sanitize
from monitor.errors import AudioInputError

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.1
QUEUE_SECONDS = 30.0
MAX_BACKOFF = 30.0
NO_AUDIO_GRACE = 3.0  # seconds a fresh ffmpeg may take to deliver its first audio before the source is down


class FfmpegSource(AudioSource):
    def __init__(
        self,
        url: str,
        sample_rate: int,
        realtime: bool = False,
        stall_seconds: float = 10.0,
        source_id: str | None = None,
        ffmpeg: str = "ffmpeg",
        attempts: int | None = None,
    ) -> None:
        """``attempts``: None (the daemon) restarts a failing stream for ever; a number (offline
        commands) gives up after that many failed tries in a row, and a clean end of the input
        ends the source, as a file's would."""
        super().__init__(source_id or url, sample_rate, 1)
        check_sample_rate(sample_rate, f"{url}: the decoded rate")
        self._ffmpeg = shutil.which(ffmpeg)
        if self._ffmpeg is None:
            raise AudioInputError(f"'{ffmpeg}' not found: install ffmpeg to read streams such as {url}")
        self.url = url
        self.is_file = "://" not in url
        if self.is_file and not Path(url).exists():
            raise AudioInputError(f"{url}: no such file")
        self.realtime = realtime
        self.attempts = attempts
        self.stall_seconds = stall_seconds
        self._chunk_bytes = int(CHUNK_SECONDS * sample_rate) * 4
        # Live streams drop (and count) when processing falls behind; files wait instead.
        self._queue: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(
            maxsize=int(QUEUE_SECONDS / CHUNK_SECONDS)
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = False
        self._dropped = 0
        self._restarts = 0
        self._sanitized = 0
        self._error = ""
        self._stalled = ""  # why _check_stall killed the current ffmpeg, if it did
        self._gave_up: str | None = None  # why an offline source stopped trying
        self._last_data = 0.0
        self._received = False  # the current ffmpeg has delivered audio

    def _command(self) -> list[str]:
        cmd = [self._ffmpeg or "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"]
        if self.realtime:
            cmd.append("-re")
        if self.url.startswith("rtsp://"):
            cmd += ["-rtsp_transport", "tcp"]
        return cmd + [
            "-i", self.url, "-vn", "-ac", "1", "-ar", str(self.sample_rate),
            "-af", "aresample=resampler=soxr", "-f", "f32le", "pipe:1",
        ]  # fmt: skip

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"ffmpeg:{self.id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Reader thread: (re)start ffmpeg and move its output into the queue until stopped."""
        backoff, failures = 1.0, 0
        while not self._stop.is_set():
            started = time.monotonic()
            clean_end = self._read_process()
            if self._stop.is_set():
                break
            if clean_end and (self.is_file or self.attempts is not None):
                self._queue.put(None)  # end of the input
                return
            if time.monotonic() - started > 60:
                backoff, failures = 1.0, 0  # it ran fine for a while: this is a fresh fault
            failures += 1
            if self.attempts is not None and failures >= self.attempts:
                self._gave_up = f"{self.url}: cannot read it after {failures} tries ({self._error})"
                break
            log.warning("%s: ffmpeg stopped (%s); restarting in %.0f s", self.id, self._error, backoff)
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)
            self._restarts += 1
        self._queue.put(None)

    def _read_process(self) -> bool:
        """Run ffmpeg once; True if it ended cleanly at the end of its input."""
        process = subprocess.Popen(self._command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._process = process
        self._stalled = ""
        self._received = False
        self._last_data = time.monotonic()
        wall_next = time.time()
        assert process.stdout is not None
        pending = b""
        while not self._stop.is_set():
            data = process.stdout.read1(self._chunk_bytes)
            if not data:
                break
            self._last_data = time.monotonic()
            self._received = True
            pending += data
            usable = len(pending) - len(pending) % 4
            if usable == 0:
                continue
            samples = np.frombuffer(pending[:usable], dtype="<f4").copy()
            pending = pending[usable:]
            block_wall = time.time() - len(samples) / self.sample_rate if not self.is_file or self.realtime else wall_next
            wall_next = block_wall + len(samples) / self.sample_rate
            self._enqueue(samples, block_wall)
        process.stdout.close()
        code = process.wait()
        stderr = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
        # Killed for silence, ffmpeg's exit code (-9) would hide the reason.
        self._error = self._stalled or (stderr.splitlines() or [f"exit code {code}"])[-1][:200]
        return code == 0 and not self._stalled

    def _enqueue(self, samples: np.ndarray, wall_time: float) -> None:
        if self.is_file and not self.realtime:
            while not self._stop.is_set():
                try:
                    self._queue.put((samples, wall_time), timeout=0.2)
                    return
                except queue.Full:
                    continue
            return
        try:
            self._queue.put_nowait((samples, wall_time))
        except queue.Full:
            self._dropped += len(samples)

    def _check_stall(self) -> None:
        process = self._process
        if process is not None and process.poll() is None and time.monotonic() - self._last_data > self.stall_seconds:
            self._stalled = f"no audio for {self.stall_seconds:g} s"
            process.kill()  # the reader thread sees EOF and restarts it

    def read(self) -> AudioBlock | None:
        if self._done:
            return None
        self._check_stall()
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        if item is None:
            self._done = True
            if self._gave_up is not None:
                raise AudioInputError(self._gave_up)
            return None
        samples, wall_time = item
        samples, bad = sanitize(samples)
        self._sanitized += bad
        return AudioBlock(samples.reshape(-1, 1), wall_time)

    def kill_process(self) -> None:
        """Kill the current ffmpeg (as a crash would); the source restarts it."""
        if self._process is not None:
            self._process.kill()

    @property
    def finished(self) -> bool:
        return self._done

    def stop(self) -> None:
        self._stop.set()
        self._done = True
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stats(self) -> SourceStats:
        """``streaming`` only while audio arrives; a stream that connected but sends nothing is down."""
        running = self._process is not None and self._process.poll() is None
        silent = time.monotonic() - self._last_data
        if self._done:
            ok, status = True, "finished"
        elif not running:
            ok, status = False, f"reconnecting: {self._error}"
        elif self._received and silent < self.stall_seconds:
            ok, status = True, "streaming"
        elif not self._received and silent < min(NO_AUDIO_GRACE, self.stall_seconds):
            ok, status = True, "connecting"
        else:
            ok, status = False, f"no audio for {silent:.0f} s"
        return SourceStats(
            ok=ok,
            status=status,
            dropped_samples=self._dropped,
            restarts=self._restarts,
            sanitized_samples=self._sanitized,
        )
