"""Config loader: the YAML file -> a validated :class:`~monitor.config.schema.Config`.

Takes the file and the environment (read only here, at the edge: ``$STATE_DIRECTORY``,
``$XDG_STATE_HOME`` and ``$HOME`` for the default state directory, ``$XDG_CONFIG_HOME`` and
``$HOME`` for the default sounds folder; ``$SOUND_MONITOR_MQTT_*``
for MQTT credentials); gives a ``Config`` or raises
:class:`ConfigError` listing every problem as ``file:line: key: problem (hint)``.
Relative paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from monitor.config.nodes import MAX_BYTES, Problem, Reader, compose, line_of
from monitor.config.schema import LOG_LEVELS, ClipsConfig, Config, LoggingConfig, ModelConfig, SourceConfig
from monitor.errors import UserError
from monitor.journal import default_state_dir
from monitor.shipped import model_path, rules_path
from monitor.sounds.store import default_sounds_dir
from monitor.mqtt.settings import MqttSettings, resolve_credentials
from monitor.smallfile import FileRefused, not_regular, read_small_file
from monitor.stream.windower import MAX_HOP, MIN_HOP

MODES = ("home", "away", "night")
TOP_KEYS = ("sources", "model", "hop", "rules", "mode", "state_dir", "mqtt", "clips", "logging", "health_interval",
            "sounds_dir")
SOURCE_KEYS = ("id", "mic", "file", "url", "realtime", "stall_seconds", "rules")
MODEL_KEYS = ("path", "threads")
CLIPS_KEYS = ("enabled", "pre_seconds", "post_seconds", "max_seconds", "max_age_days", "max_total_mb",
              "speech_labels", "speech_threshold", "speech_rules")  # fmt: skip
MQTT_TEXT = ("host", "node_id", "topic_prefix", "discovery_prefix", "client_id", "username", "password", "password_env")
MQTT_PATHS = ("password_file", "tls_ca_certs", "tls_certfile", "tls_keyfile")
MQTT_BOOLS = ("discovery", "tls", "tls_insecure")
MQTT_NUMBERS = {  # key: (low, high, integer)
    "port": (1, 65535, True), "keepalive": (1, 65535, True), "rule_off_delay": (1, 86400, True),
    "reconnect_min_delay": (0.01, 3600, False), "reconnect_max_delay": (0.01, 3600, False),
    "connect_timeout": (0.1, 600, False), "state_interval": (0, 3600, False), "health_interval": (0, 3600, False),
    "stale_after": (1, 30 * 86400, False),
}  # fmt: skip
MQTT_KEYS = MQTT_TEXT + MQTT_PATHS + MQTT_BOOLS + tuple(MQTT_NUMBERS) + ("protocol",)
SOURCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ConfigError(UserError):
    """The config file is unreadable or invalid; the message has one line per problem."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(p.format(str(path)) for p in self.problems))


def load_config(path: Path, environ: Mapping[str, str]) -> Config:
    try:
        data = read_small_file(path, MAX_BYTES)
    except FileRefused as exc:
        if exc.missing:
            raise ConfigError(path, [Problem(0, "", "config file not found",
                                             "'sound-monitor config --example > FILE' writes a starting point")]) from None
        raise ConfigError(path, [Problem(0, "", f"the config file {exc}",
                                         "a config file is a small YAML text file")]) from None
    return parse_config(data, path, environ)


def parse_config(data: bytes, path: Path, environ: Mapping[str, str]) -> Config:
    """Validate ``data`` (the contents of ``path``) into a Config; raises ConfigError."""
    node, problems = compose(data)
    if node is None:
        raise ConfigError(path, problems)
    config = _Loader(path.resolve().parent, environ).load(node, path)
    return config


class _Loader(Reader):
    def __init__(self, base: Path, environ: Mapping[str, str]) -> None:
        super().__init__()
        self.base = base
        self.environ = environ

    def load(self, node: yaml.Node, path: Path) -> Config:
        keys = self.mapping(node, "", TOP_KEYS)
        if keys is None:
            raise ConfigError(path, self.problems)
        sources = self._sources(keys.get("sources"), node)
        model = self._model(keys.get("model"))
        hop = self.number(keys["hop"], "hop", MIN_HOP, MAX_HOP) if "hop" in keys else 1.0
        rules = self.path(keys["rules"], "rules") if "rules" in keys else self._default_rules()
        mode = self.choice(keys["mode"], "mode", MODES) if _given(keys, "mode") else None
        state_dir = self.path(keys["state_dir"], "state_dir") if "state_dir" in keys else self._state_dir()
        mqtt = self._mqtt(keys["mqtt"]) if _given(keys, "mqtt") else None
        clips = self._clips(keys["clips"]) if "clips" in keys else ClipsConfig()
        logging = self._logging(keys["logging"]) if "logging" in keys else LoggingConfig()
        health = self.number(keys["health_interval"], "health_interval", 1, 3600) if "health_interval" in keys else 10.0
        sounds = self.path(keys["sounds_dir"], "sounds_dir") if "sounds_dir" in keys else self._sounds_dir()
        if self.problems:
            raise ConfigError(path, self.problems)
        return Config(path.resolve(), sources, model, rules, state_dir, hop, mode, mqtt, clips, logging, health,  # type: ignore[arg-type]
                      sounds_dir=sounds)

    def _default_rules(self) -> Path:
        """``rules.yaml`` beside the config file, else the shipped rules (as ``./rules.yaml`` is for ``run``)."""
        beside = self.base / "rules.yaml"
        return beside if beside.is_file() else rules_path()

    def _state_dir(self) -> Path:
        home = self.environ.get("HOME")
        return default_state_dir(self.environ, Path(home) if home else None)

    def _sounds_dir(self) -> Path:
        home = self.environ.get("HOME")
        return default_sounds_dir(self.environ, Path(home) if home else None)

    def path(self, node: yaml.Node, key: str) -> Path | None:
        text = self.text(node, key)
        return None if text is None else self.base / Path(text).expanduser()

    def _sources(self, node: yaml.Node | None, top: yaml.Node) -> tuple[SourceConfig, ...]:
        if node is None:
            self.problem(top, "sources", "missing: the daemon needs at least one source",
                         "e.g. sources: [{id: living_room, mic: default}]")  # fmt: skip
            return ()
        items = self.items(node, "sources")
        if isinstance(node, yaml.SequenceNode) and not items:
            self.problem(node, "sources", "is empty: the daemon needs at least one source")
        seen: dict[str, int] = {}
        out = []
        for index, item in enumerate(items):
            key = f"sources[{index}]"
            source = self._source(item, key)
            if source is None:
                continue
            if source.id in seen:
                self.problem(item, f"{key}.id", f"duplicate source id '{source.id}'", f"first used on line {seen[source.id]}")
                continue
            seen[source.id] = line_of(item)
            out.append(source)
        return tuple(out)

    def _source(self, node: yaml.Node, key: str) -> SourceConfig | None:
        keys = self.mapping(node, key, SOURCE_KEYS)
        if keys is None:
            return None
        ok = len(self.problems)
        kinds = [k for k in ("mic", "file", "url") if k in keys]
        if len(kinds) != 1:
            what = "has none of" if not kinds else "has more than one of"
            self.problem(node, key, f"{what} 'mic', 'file', 'url'", "give exactly one input per source")
        source_id = self.text(keys["id"], f"{key}.id") if "id" in keys else None
        if "id" not in keys:
            self.problem(node, f"{key}.id", "missing", "give every source a short unique id, e.g. id: living_room")
        elif source_id is not None and not SOURCE_ID.fullmatch(source_id):
            self.problem(keys["id"], f"{key}.id", f"'{source_id[:40]}' may only use letters, digits, '_' and '-'",
                         "ids name MQTT topics and clip files")  # fmt: skip
        target: str | None = None
        kind = kinds[0] if len(kinds) == 1 else ""
        if kind == "mic":
            device = keys["mic"]
            target = None if self.is_null(device) else self.text(device, f"{key}.mic")
            target = None if target == "default" else target
        elif kind == "file":
            file = self.path(keys["file"], f"{key}.file")
            target = str(file) if file is not None else None
        elif kind == "url":
            target = self.text(keys["url"], f"{key}.url")
        realtime = self.boolean(keys["realtime"], f"{key}.realtime") if "realtime" in keys else False
        if "realtime" in keys and kind != "file":
            self.problem(keys["realtime"], f"{key}.realtime", "only applies to 'file' sources")
        stall = self.number(keys["stall_seconds"], f"{key}.stall_seconds", 1, 600) if "stall_seconds" in keys else 10.0
        if "stall_seconds" in keys and kind != "url":
            self.problem(keys["stall_seconds"], f"{key}.stall_seconds", "only applies to 'url' sources")
        rules = self.path(keys["rules"], f"{key}.rules") if "rules" in keys else None
        if len(self.problems) > ok or source_id is None:
            return None
        return SourceConfig(source_id, kind, target, bool(realtime), float(stall or 10.0), rules, line_of(node))

    def _model(self, node: yaml.Node | None) -> ModelConfig:
        if node is None:
            return ModelConfig(model_path())
        keys = self.mapping(node, "model", MODEL_KEYS) or {}
        path = self.path(keys["path"], "model.path") if "path" in keys else model_path()
        threads = self.number(keys["threads"], "model.threads", 1, 64, integer=True) if "threads" in keys else 1
        return ModelConfig(path or model_path(), int(threads or 1))

    def _mqtt(self, node: yaml.Node) -> MqttSettings | None:
        keys = self.mapping(node, "mqtt", MQTT_KEYS)
        if keys is None:
            return None
        ok = len(self.problems)
        values: dict[str, object] = {}
        for name, value in keys.items():
            key = f"mqtt.{name}"
            if self.is_null(value):
                continue
            if name in MQTT_TEXT:
                values[name] = self.text(value, key)
            elif name in MQTT_PATHS:
                values[name] = self.path(value, key)
            elif name in MQTT_BOOLS:
                values[name] = self.boolean(value, key)
            elif name == "protocol":
                values[name] = self.choice(value, key, ("3.1.1", "5"))
            else:
                low, high, integer = MQTT_NUMBERS[name]
                number = self.number(value, key, low, high, integer)
                values[name] = None if number is None else (int(number) if integer else number)
        if "host" not in keys:
            self.problem(node, "mqtt.host", "missing", "the broker's host name or address, e.g. host: localhost")
        if "password" in values and "password_file" in values:
            self.problem(keys["password"], "mqtt.password", "given together with password_file", "keep one of them")
        for name in ("tls_ca_certs", "tls_certfile", "tls_keyfile", "password_file"):
            path = values.get(name)
            reason = _not_a_file(path) if isinstance(path, Path) else None
            if reason is not None:
                self.problem(keys[name], f"mqtt.{name}", reason)
        if len(self.problems) > ok:
            return None
        # The daemon paces health itself (top-level health_interval, and at once when a source
        # goes down or comes back); the sink's own throttle would delay an outage report.
        values.setdefault("health_interval", 0.0)
        try:  # the settings check what only they know (node id and topic syntax, TLS pairs, ...)
            return resolve_credentials(MqttSettings(**values), self.environ)  # type: ignore[arg-type]
        except UserError as exc:
            self.problem(node, "mqtt", str(exc).removeprefix("mqtt settings: "))
            return None

    def _clips(self, node: yaml.Node) -> ClipsConfig:
        keys = self.mapping(node, "clips", CLIPS_KEYS) or {}
        d = ClipsConfig()
        numbers = {"pre_seconds": (0, 30), "post_seconds": (0, 30), "max_seconds": (1, 300),
                   "max_age_days": (0.001, 3650), "max_total_mb": (1, 1_000_000), "speech_threshold": (0, 1)}  # fmt: skip
        values: dict[str, object] = {}
        for name, (low, high) in numbers.items():
            if name in keys:
                values[name] = self.number(keys[name], f"clips.{name}", low, high)
        if "enabled" in keys:
            values["enabled"] = self.boolean(keys["enabled"], "clips.enabled")
        for name in ("speech_labels", "speech_rules"):
            if name in keys:
                names = [] if self.is_null(keys[name]) else self.names(keys[name], f"clips.{name}")
                values[name] = None if names is None else tuple(names)
        pre = values.get("pre_seconds", d.pre_seconds)
        post = values.get("post_seconds", d.post_seconds)
        longest = values.get("max_seconds", d.max_seconds)
        if None not in (pre, post, longest) and pre + post >= longest:  # type: ignore[operator]
            self.problem(keys.get("max_seconds", node), "clips.max_seconds",
                         f"must be longer than pre_seconds + post_seconds ({pre:g} + {post:g})")  # fmt: skip
        if None in values.values():
            return d
        return ClipsConfig(**values)  # type: ignore[arg-type]

    def _logging(self, node: yaml.Node) -> LoggingConfig:
        keys = self.mapping(node, "logging", ("level",)) or {}
        level = self.choice(keys["level"], "logging.level", LOG_LEVELS) if "level" in keys else "info"
        return LoggingConfig(level or "info")


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (a FIFO would hang the reader), or None."""
    try:
        reason = not_regular(path.stat().st_mode)
    except OSError:
        return f"file not found: {path}"
    return None if reason is None else f"{path} {reason}"


def _given(keys: dict[str, yaml.Node], name: str) -> bool:
    node = keys.get(name)
    return node is not None and not (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null")
