"""Turns a user's source spec into an audio source.

Takes ``mic`` (optionally with a device), ``demo``, a URL (anything with ``://``,
read through ffmpeg) or a file path; gives the matching :class:`AudioSource`.
"""

from __future__ import annotations

from pathlib import Path

from monitor.audio.demo import demo_scene
from monitor.audio.paced import ArraySource
from monitor.audio.source import AudioSource


def open_source(
    spec: str,
    sample_rate: int,
    realtime: bool = False,
    device: str | None = None,
    source_id: str | None = None,
    attempts: int | None = None,
) -> AudioSource:
    """``sample_rate`` is the model's: used by sources that can deliver it directly. ``attempts``:
    how often a stream URL is tried before giving up (None: for ever, as the daemon does)."""
    if spec == "mic":
        from monitor.audio.mic import MicSource  # PortAudio is loaded only when a microphone is used

        return MicSource(device, source_id=source_id or "mic")
    if spec == "demo":
        return ArraySource(source_id or "demo", demo_scene(sample_rate), sample_rate, realtime=realtime)
    if "://" in spec:
        from monitor.audio.ffmpeg import FfmpegSource

        return FfmpegSource(spec, sample_rate, realtime=realtime, source_id=source_id, attempts=attempts)
    from monitor.audio.file import FileSource

    source = FileSource(Path(spec), realtime=realtime)
    if source_id:
        source.id = source_id
    return source
