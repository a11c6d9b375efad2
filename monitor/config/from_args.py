"""The configuration that ``sound-monitor run`` builds from its command line.

Takes the parsed ``run`` options and the environment (read only here, for the state
directory, the sounds folder and MQTT credentials); gives the same typed :class:`Config` a config file
would, so the command line and the daemon run one code path.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from monitor.config.schema import Config, ModelConfig, SourceConfig
from monitor.journal import default_state_dir
from monitor.shipped import model_path
from monitor.mqtt.settings import from_arguments, resolve_credentials
from monitor.sounds.store import default_sounds_dir


def source_from_spec(spec: str, device: str | None, realtime: bool) -> SourceConfig:
    """``mic``, ``demo``, a URL or a file path, as a config file would describe it."""
    if spec == "mic":
        return SourceConfig(id="mic", kind="mic", target=device)
    if spec == "demo":
        return SourceConfig(id="demo", kind="demo", target=None, realtime=True)
    if "://" in spec:
        return SourceConfig(id=spec, kind="url", target=spec)
    return SourceConfig(id=spec, kind="file", target=spec, realtime=realtime)


def config_from_arguments(args: argparse.Namespace, rules: Path, environ: Mapping[str, str]) -> Config:
    home = environ.get("HOME")
    mqtt = from_arguments(args)
    return Config(
        path=None,
        sources=(source_from_spec(args.source, args.device, args.realtime),),
        model=ModelConfig(path=args.model or model_path(), threads=args.threads),
        rules=rules,
        state_dir=args.state_dir or default_state_dir(environ, Path(home) if home else None),
        hop=args.hop,
        mode=args.mode,
        mqtt=None if mqtt is None else resolve_credentials(mqtt, environ),
        sounds_dir=args.sounds_dir or default_sounds_dir(environ, Path(home) if home else None),
    )
