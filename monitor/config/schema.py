"""The typed configuration: what a validated config file means.

Takes nothing (the loader builds these); gives frozen dataclasses whose defaults
are the documented defaults. Paths are absolute (the loader resolves relative
paths against the config file's folder). Nothing here parses YAML or reads the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monitor.mqtt.settings import MqttSettings

SOURCE_KINDS = ("mic", "file", "url", "demo")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class SourceConfig:
    """One audio input. ``kind`` is ``mic`` (``target`` = device name/index, None = the default
    input), ``file`` (``target`` = path, paced in real time when ``realtime``) or ``url``
    (``target`` = anything ffmpeg reads; restarted when it stalls for ``stall_seconds``) or
    ``demo`` (the synthetic demo scene, paced in real time)."""

    id: str
    kind: str
    target: str | None
    realtime: bool = False
    stall_seconds: float = 10.0
    rules: Path | None = None  # this source's own rules file (default: the global one)
    line: int = field(default=0, compare=False)

    @property
    def spec(self) -> str:
        """The ``open_source`` spec (``mic``, a path or a URL)."""
        return self.kind if self.kind in ("mic", "demo") else str(self.target)


@dataclass(frozen=True)
class ModelConfig:
    path: Path
    threads: int = 1


@dataclass(frozen=True)
class ClipsConfig:
    """Evidence clips: each alert's audio from ``pre_seconds`` before its onset to
    ``post_seconds`` after it fired, as FLAC under ``<state_dir>/clips``.

    Privacy: a clip any of whose windows scored ``speech_threshold`` or more for one of
    ``speech_labels`` is not stored, unless its rule is listed in ``speech_rules``.
    """

    enabled: bool = False
    pre_seconds: float = 5.0
    post_seconds: float = 5.0
    max_seconds: float = 60.0  # longest clip; long events keep their start
    max_age_days: float = 30.0
    max_total_mb: float = 500.0
    speech_labels: tuple[str, ...] = ("speech",)
    speech_threshold: float = 0.5
    speech_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"


@dataclass(frozen=True)
class Config:
    path: Path | None  # None: built from the command line (a reload re-reads only the rules)
    sources: tuple[SourceConfig, ...]
    model: ModelConfig
    rules: Path
    state_dir: Path
    hop: float = 1.0
    mode: str | None = None  # None: the rules file's schedule and default mode decide
    mqtt: MqttSettings | None = None  # credentials already resolved from the environment
    clips: ClipsConfig = ClipsConfig()
    logging: LoggingConfig = LoggingConfig()
    health_interval: float = 10.0
    sounds_dir: Path | None = None  # learnt sounds (`sound-monitor learn`); None: none are loaded

    @property
    def clips_dir(self) -> Path:
        return self.state_dir / "clips"

    def rules_for(self, source: SourceConfig) -> Path:
        return source.rules or self.rules
