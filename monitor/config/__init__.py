"""The daemon's configuration file: YAML -> validated, typed, frozen settings.

Modules: ``schema`` (the dataclasses and their defaults), ``nodes`` (YAML with line
numbers, problems collected rather than raised one at a time), ``loader`` (the file
-> :class:`~monitor.config.schema.Config`, every problem at once) and ``example``
(the commented example that ``sound-monitor config --example`` prints).
"""

from monitor.config.loader import ConfigError, load_config, parse_config
from monitor.config.schema import ClipsConfig, Config, LoggingConfig, ModelConfig, SourceConfig

__all__ = [
    "ClipsConfig",
    "Config",
    "ConfigError",
    "LoggingConfig",
    "ModelConfig",
    "SourceConfig",
    "load_config",
    "parse_config",
]
