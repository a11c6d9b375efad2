"""The typed configuration: what a validated config file means.

Takes nothing (the loader builds these); gives frozen dataclasses whose defaults
are the documented defaults. Paths are absolute (the loader resolves relative
paths against the config file's folder). Nothing here parses YAML or reads the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SOURCE_KINDS = ("mic", "file", "url")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class SourceConfig:
    """One audio input. ``kind`` is ``mic`` (``target`` = device name/index, None = the default
    input), ``file`` (``target`` = path, paced in real time when ``realtime``) or ``url``
    (``target`` = anything ffmpeg reads; restarted when it stalls for ``stall_seconds``)."""

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
        return "mic" if self.kind == "mic" else str(self.target)


@dataclass(frozen=True)
class ModelConfig:
    path: Path
    threads: int = 1


@dataclass(frozen=True, repr=False)
class MqttConfig:
    """The ``mqtt`` section, field for field the arguments of ``monitor.mqtt.MqttSettings``."""

    host: str
    port: int | None = None
    node_id: str | None = None
    topic_prefix: str | None = None
    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    tls: bool = False
    tls_ca_certs: Path | None = None
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    tls_insecure: bool = False
    keepalive: int = 60
    protocol: str = "3.1.1"
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = 60.0
    connect_timeout: float = 5.0
    state_interval: float = 1.0
    health_interval: float = 10.0
    rule_off_delay: int = 300

    def __repr__(self) -> str:  # never show the password
        shown = "***" if self.password is not None else None
        return f"MqttConfig(host={self.host!r}, port={self.port!r}, username={self.username!r}, password={shown!r})"

    def arguments(self) -> dict[str, object]:
        """Keyword arguments for ``MqttSettings`` (fields left at None use its defaults)."""
        optional = ("node_id",)
        return {k: v for k, v in self.__dict__.items() if not (k in optional and v is None)}


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
    path: Path
    sources: tuple[SourceConfig, ...]
    model: ModelConfig
    rules: Path
    state_dir: Path
    hop: float = 1.0
    mode: str | None = None  # None: the rules file's schedule and default mode decide
    mqtt: MqttConfig | None = None
    clips: ClipsConfig = ClipsConfig()
    logging: LoggingConfig = LoggingConfig()
    health_interval: float = 10.0

    @property
    def clips_dir(self) -> Path:
        return self.state_dir / "clips"

    def rules_for(self, source: SourceConfig) -> Path:
        return source.rules or self.rules
