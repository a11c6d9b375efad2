"""MQTT connection settings: the typed, validated form of the ``mqtt`` configuration.

Takes plain values from the configuration loader or from the command line
(``--mqtt HOST[:PORT]``, ``--mqtt-prefix P``); gives a frozen :class:`MqttSettings`
that everything else trusts. Credentials are filled in at the edge by
:func:`resolve_credentials` (an explicit value, a file, or an environment variable),
so nothing deeper reads the environment. The password never appears in ``repr()``,
``str()`` or any log line.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from monitor.errors import UserError

PROTOCOLS = ("3.1.1", "5")
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
DEFAULT_USERNAME_ENV = "SOUND_MONITOR_MQTT_USERNAME"
DEFAULT_PASSWORD_ENV = "SOUND_MONITOR_MQTT_PASSWORD"

# Home Assistant requires discovery node ids to match this; topics use the same ids.
_ID = re.compile(r"[A-Za-z0-9_-]+")
# Far below MQTT's 65,535-byte limits (beyond them paho's network thread dies), with
# room left for the levels appended to the prefix (``/rule/<rule>/state``, discovery).
MAX_PREFIX = 200
MAX_CLIENT_ID = 200


def slug(name: str) -> str:
    """``name`` reduced to the characters Home Assistant allows in ids (``[A-Za-z0-9_-]``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")


def default_node_id() -> str:
    """This machine's host name as a node id (``sound-monitor/<node_id>``)."""
    return slug(socket.gethostname()) or "sound-monitor"


@dataclass(frozen=True, repr=False)
class MqttSettings:
    """Where the broker is, who we are, and how to talk to it.

    ``port`` defaults to 8883 with TLS and 1883 without; ``topic_prefix`` to
    ``sound-monitor/<node_id>``; ``client_id`` to ``sound-monitor-<node_id>`` (the
    daemon makes that default unique per state directory, see :func:`for_state_dir`).
    Giving any TLS file turns TLS on. ``tls_insecure`` skips certificate and host
    name verification (self-signed test brokers only; logged as a warning).
    ``rule_off_delay`` is Home Assistant's auto-off for the per-rule binary
    sensors: a safety net so a lost ``OFF`` can never leave a sensor stuck on.
    ``stale_after``: an alert replayed after an outage or a restart that is older than
    this is still delivered, with ``"stale": true`` in its payload.
    """

    host: str
    port: int | None = None
    node_id: str = field(default_factory=default_node_id)
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
    stale_after: float = 3600.0  # a replayed alert older than this (seconds) is marked "stale"

    def __post_init__(self) -> None:
        def fail(what: str) -> None:
            raise UserError(f"mqtt settings: {what}")

        if not self.host or any(c.isspace() for c in self.host) or "/" in self.host:
            fail(f"host {self.host!r} is not a host name or address")
        if not _ID.fullmatch(self.node_id):
            fail(f"node_id {self.node_id!r} may only contain letters, digits, '_' and '-'")
        tls = self.tls or any(p is not None for p in (self.tls_ca_certs, self.tls_certfile, self.tls_keyfile))
        object.__setattr__(self, "tls", tls)
        if self.port is None:
            object.__setattr__(self, "port", DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            fail(f"port {self.port!r} is not between 1 and 65535")
        if self.topic_prefix is None:
            object.__setattr__(self, "topic_prefix", f"sound-monitor/{self.node_id}")
        if self.client_id is None:
            object.__setattr__(self, "client_id", f"sound-monitor-{self.node_id}")
        for name in ("topic_prefix", "discovery_prefix"):
            _check_topic_prefix(name, getattr(self, name))
        if len(self.client_id.encode("utf-8")) > MAX_CLIENT_ID:  # type: ignore[union-attr]
            fail(f"client_id is {len(self.client_id.encode('utf-8'))} bytes long; at most {MAX_CLIENT_ID}")  # type: ignore[union-attr]
        if self.protocol not in PROTOCOLS:
            fail(f"protocol {self.protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if not 1 <= self.keepalive <= 65535:
            fail(f"keepalive {self.keepalive} s is not between 1 and 65535")
        if not 0 < self.reconnect_min_delay <= self.reconnect_max_delay:
            fail("reconnect delays must satisfy 0 < reconnect_min_delay <= reconnect_max_delay")
        if self.connect_timeout <= 0:
            fail("connect_timeout must be positive")
        if self.state_interval < 0 or self.health_interval < 0:
            fail("state_interval and health_interval must not be negative")
        if self.rule_off_delay < 1:
            fail("rule_off_delay must be at least 1 second")
        if self.tls_keyfile is not None and self.tls_certfile is None:
            fail("tls_keyfile needs tls_certfile (the client certificate it belongs to)")
        for name in ("tls_ca_certs", "tls_certfile", "tls_keyfile"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                fail(f"{name}: file not found: {path}")
        if self.password is not None and not self.username:
            fail("a password needs a username")

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "password" and value is not None:
                shown.append("password='***'")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"MqttSettings({', '.join(shown)})"

    __str__ = __repr__

    @property
    def address(self) -> str:
        """``host:port`` for messages (IPv6 addresses in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def for_state_dir(settings: MqttSettings, state_dir: Path) -> MqttSettings:
    """The default client id made unique per state directory (``sound-monitor-<node_id>-<8 hex>``).

    Two daemons with one client id knock each other off the broker every second or so;
    an explicitly configured client id is kept as it is.
    """
    if settings.client_id != f"sound-monitor-{settings.node_id}":
        return settings
    digest = hashlib.sha256(str(state_dir.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return replace(settings, client_id=f"{settings.client_id}-{digest}")


def _check_topic_prefix(name: str, value: str) -> None:
    if len(value.encode("utf-8")) > MAX_PREFIX:
        raise UserError(f"mqtt settings: {name} is {len(value.encode('utf-8'))} bytes long; at most {MAX_PREFIX}")
    if not value or value.startswith("/") or value.endswith("/") or "//" in value:
        raise UserError(f"mqtt settings: {name} {value!r} must be non-empty topic levels separated by '/'")
    if "+" in value or "#" in value or "\0" in value:
        raise UserError(f"mqtt settings: {name} {value!r} must not contain the wildcards '+' or '#'")


def parse_broker(spec: str) -> tuple[str, int | None]:
    """``HOST``, ``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port or None)."""
    text = spec.strip()
    usage = "give the broker as HOST or HOST:PORT, e.g. --mqtt homeassistant.local:1883"
    if not text:
        raise UserError(f"--mqtt: empty broker address; {usage}")
    if "://" in text:
        raise UserError(f"--mqtt {spec!r}: no URL scheme, please; {usage} (TLS is set in the config file)")
    port_text: str | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise UserError(f"--mqtt {spec!r}: malformed IPv6 address; write it as [ADDRESS]:PORT")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text  # a bare IPv6 address has several colons and no port
    if not host:
        raise UserError(f"--mqtt {spec!r}: no host; {usage}")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise UserError(f"--mqtt {spec!r}: port {port_text!r} is not a number between 1 and 65535")
    return host, int(port_text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line switches that enable MQTT (``run`` uses them)."""
    parser.add_argument(
        "--mqtt",
        metavar="HOST[:PORT]",
        help="publish alerts, state and Home Assistant discovery to this MQTT broker "
        f"(credentials from ${DEFAULT_USERNAME_ENV} / ${DEFAULT_PASSWORD_ENV}; TLS via the config file)",
    )
    parser.add_argument(
        "--mqtt-prefix", metavar="PREFIX", help="topic prefix (default: sound-monitor/<host name>)"
    )


def from_arguments(args: argparse.Namespace, base: MqttSettings | None = None) -> MqttSettings | None:
    """Settings from ``--mqtt``/``--mqtt-prefix``, overriding ``base`` (the config file's) if given.

    Returns ``base`` unchanged when ``--mqtt`` is absent (``None``: MQTT is off).
    """
    if args.mqtt is None:
        if args.mqtt_prefix is not None and base is None:
            raise UserError("--mqtt-prefix needs --mqtt HOST[:PORT] (or an mqtt section in the config file)")
        if args.mqtt_prefix is None or base is None:
            return base
        return replace(base, topic_prefix=args.mqtt_prefix)
    host, port = parse_broker(args.mqtt)
    if base is None:
        return MqttSettings(host=host, port=port, topic_prefix=args.mqtt_prefix)
    changes: dict[str, object] = {"host": host, "port": port}
    if args.mqtt_prefix is not None:
        changes["topic_prefix"] = args.mqtt_prefix
    return replace(base, **changes)


def resolve_credentials(settings: MqttSettings, environ: Mapping[str, str]) -> MqttSettings:
    """Fill in the username and password at the edge.

    The password comes from, in order: ``settings.password``; the file
    ``settings.password_file`` (one line, trailing newline dropped); the variable
    named by ``settings.password_env``; ``$SOUND_MONITOR_MQTT_PASSWORD``. The
    username from ``settings.username`` or ``$SOUND_MONITOR_MQTT_USERNAME``.
    """
    username = settings.username or environ.get(DEFAULT_USERNAME_ENV) or None
    password = settings.password
    if password is None and settings.password_file is not None:
        try:
            password = Path(settings.password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise UserError(f"mqtt settings: cannot read password_file {settings.password_file}: {reason}") from None
    if password is None and settings.password_env is not None:
        if settings.password_env not in environ:
            raise UserError(
                f"mqtt settings: password_env names ${settings.password_env}, which is not set in the environment"
            )
        password = environ[settings.password_env]
    if password is None:
        password = environ.get(DEFAULT_PASSWORD_ENV)
    # Positional-free replace keeps __post_init__'s checks (a password needs a username).
    return replace(settings, username=username, password=password)
