"""Microphone capture through PortAudio (python-sounddevice).

Takes a device (name substring or index, or the default) and gives its blocks.
The PortAudio callback only copies each block into a preallocated
:class:`~monitor.stream.ring.RingBuffer` and notes xruns; everything else runs in
the processing thread. A device that fails or stops delivering (USB microphone
unplugged) is reopened with exponential backoff, and the outage shows in
:meth:`MicSource.stats`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from monitor.audio.source import AudioBlock, AudioSource, SourceStats, sanitize
from monitor.errors import AudioInputError
from monitor.stream.ring import RingBuffer, RingReader

log = logging.getLogger(__name__)

RING_SECONDS = 10.0  # generous: the processing thread drains it several times a second
STALL_SECONDS = 3.0  # no callback for this long means the device is gone
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_rate: int


def _sounddevice():  # type: ignore[no-untyped-def]
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise AudioInputError(f"audio capture is unavailable: {exc} (install libportaudio2)") from None
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """All devices with at least one input channel."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    return [
        InputDevice(i, d["name"], apis[d["hostapi"]]["name"], d["max_input_channels"], int(d["default_samplerate"]))
        for i, d in enumerate(sd.query_devices())
        if d["max_input_channels"] > 0
    ]


def resolve_device(device: str | int | None) -> InputDevice:
    """The input device named (by index, exact name or unique substring), or the default one."""
    devices = list_input_devices()
    if not devices:
        raise AudioInputError(
            "no microphone (audio input device) found; analyse a recording with '--source FILE' "
            "or try the pipeline with '--source demo'"
        )
    if device is None:
        default = _sounddevice().default.device[0]
        return next((d for d in devices if d.index == default), devices[0])
    if isinstance(device, int) or str(device).isdigit():
        found = [d for d in devices if d.index == int(device)]
    else:
        found = [d for d in devices if d.name == device] or [d for d in devices if str(device).lower() in d.name.lower()]
    if len(found) != 1:
        names = ", ".join(f"{d.index}: {d.name}" for d in devices)
        what = "matches several devices" if found else "matches no input device"
        raise AudioInputError(f"audio device {device!r} {what}; inputs are: {names} ('sound-monitor devices' lists them)")
    return found[0]


class MicSource(AudioSource):
    def __init__(self, device: str | int | None = None, channels: int = 1, source_id: str = "mic") -> None:
        self._device = resolve_device(device)
        super().__init__(source_id, self._device.default_rate, min(channels, self._device.channels))
        self._ring = RingBuffer(int(RING_SECONDS * self.sample_rate), self.sample_rate, self.channels)
        self._reader = RingReader(self._ring)
        self._stream = None  # type: ignore[var-annotated]
        self._overruns = 0
        self._last_callback = 0.0
        self._restarts = 0
        self._sanitized = 0
        self._error = ""
        self._retry_at = 0.0
        self._backoff = 1.0
        self._stopped = False

    def _callback(self, indata: np.ndarray, frames: int, time_info, status) -> None:  # type: ignore[no-untyped-def]
        # Sacred path: no allocation beyond the anchor, no locks, no logging.
        if status.input_overflow:
            self._overruns += 1
        now = time.time()
        self._ring.write(indata, now - frames / self.sample_rate)
        self._last_callback = time.monotonic()

    def start(self) -> None:
        self._open()
        if self._stream is None:
            raise AudioInputError(f"cannot open audio device '{self._device.name}': {self._error}")

    def _open(self) -> None:
        sd = _sounddevice()
        try:
            stream = sd.InputStream(
                device=self._device.index,
                channels=self.channels,
                samplerate=self.sample_rate,
                dtype="float32",
                callback=self._callback,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._error = str(exc)
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            return
        self._stream = stream
        self._last_callback = time.monotonic()
        self._error = ""
        self._backoff = 1.0

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close(ignore_errors=True)
            except Exception:  # the device may already be gone; closing is best effort
                pass
            self._stream = None

    def _check_health(self) -> None:
        now = time.monotonic()
        if self._stream is not None:
            if self._stream.active and now - self._last_callback < STALL_SECONDS:
                return
            self._error = "device stopped delivering audio (unplugged?)"
            log.warning("%s: %s; reopening", self.id, self._error)
            self._close_stream()
            self._retry_at = now
        if now >= self._retry_at:
            self._restarts += 1
            self._reopen()

    def _reopen(self) -> None:
        try:
            self._device = resolve_device(self._device.name)
        except AudioInputError as exc:
            self._error = str(exc)
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            return
        self._open()
        if self._stream is not None:
            log.warning("%s: audio device '%s' is back", self.id, self._device.name)

    def read(self) -> AudioBlock | None:
        if self._stopped:
            return None
        self._check_health()
        start, data = self._reader.read_new()
        if len(data) == 0:
            return None
        data, bad = sanitize(data)
        self._sanitized += bad
        return AudioBlock(data, self._ring.time_of(start))

    @property
    def finished(self) -> bool:
        return False  # a microphone never ends; stop() ends capture

    def stop(self) -> None:
        self._stopped = True
        self._close_stream()

    def stats(self) -> SourceStats:
        ok = self._stream is not None and not self._error
        return SourceStats(
            ok=ok,
            status=f"capturing from {self._device.name}" if ok else f"no audio: {self._error}",
            overruns=self._overruns,
            dropped_samples=self._reader.dropped,
            restarts=self._restarts,
            sanitized_samples=self._sanitized,
        )
