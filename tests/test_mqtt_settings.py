"""MQTT settings: defaults, validation with clear messages, --mqtt parsing, credentials at the edge;
and which mode payloads count as a mode."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import UserError
from monitor.mqtt.settings import (
    DEFAULT_PASSWORD_ENV,
    DEFAULT_USERNAME_ENV,
    MqttSettings,
    add_arguments,
    from_arguments,
    parse_broker,
    resolve_credentials,
)
from monitor.mqtt.topics import MODES, parse_mode


def test_defaults_derive_from_the_node_id():
    s = MqttSettings("broker.lan", node_id="kitchen")
    assert (s.port, s.topic_prefix, s.client_id, s.discovery_prefix) == (
        1883,
        "sound-monitor/kitchen",
        "sound-monitor-kitchen",
        "homeassistant",
    )
    assert (s.protocol, s.tls, s.tls_insecure) == ("3.1.1", False, False)


def test_a_tls_file_turns_tls_on_with_the_tls_port(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    s = MqttSettings("broker.lan", node_id="n", tls_ca_certs=ca)
    assert s.tls and s.port == 8883


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("broker", ("broker", None)),
        ("broker.lan:1884", ("broker.lan", 1884)),
        ("192.168.1.5:8883", ("192.168.1.5", 8883)),
        ("[::1]:1883", ("::1", 1883)),
        ("[fe80::1]", ("fe80::1", None)),
        ("fe80::1", ("fe80::1", None)),
        ("  broker  ", ("broker", None)),
    ],
)
def test_parse_broker_accepts_host_and_optional_port(spec, expected):
    assert parse_broker(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty broker address"),
        ("mqtt://broker:1883", "no URL scheme"),
        ("broker:", "port ''"),
        ("broker:http", "port 'http'"),
        ("broker:0", "between 1 and 65535"),
        ("broker:70000", "between 1 and 65535"),
        (":1883", "no host"),
        ("[::1:1883", "malformed IPv6"),
    ],
)
def test_parse_broker_rejects_bad_addresses_with_a_hint(spec, message):
    with pytest.raises(UserError, match=message) as error:
        parse_broker(spec)
    assert "--mqtt" in str(error.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"topic_prefix": "home/#"}, "wildcards"),
        ({"topic_prefix": "/home"}, "topic levels"),
        ({"topic_prefix": "a//b"}, "topic levels"),
        ({"discovery_prefix": "ha/+"}, "wildcards"),
        ({"node_id": "kitchen pi"}, "node_id"),
        ({"port": 0}, "port"),
        ({"protocol": "4"}, "protocol"),
        ({"keepalive": 0}, "keepalive"),
        ({"reconnect_min_delay": 5.0, "reconnect_max_delay": 1.0}, "reconnect"),
        ({"password": "pw"}, "needs a username"),
        ({"tls_ca_certs": "/nonexistent/ca.pem"}, "file not found"),
        ({"host": "bro ker"}, "host"),
    ],
)
def test_invalid_settings_say_what_is_wrong(changes, message):
    with pytest.raises(UserError, match=message):
        MqttSettings(**{"host": "broker", "node_id": "n", **changes})


def test_repr_and_str_hide_the_password():
    s = MqttSettings("broker", node_id="n", username="u", password="hunter2-secret")
    for text in (repr(s), str(s), f"{s}", "%s" % (s,)):
        assert "hunter2-secret" not in text and "password='***'" in text


def test_password_from_a_file_wins_over_the_environment(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    s = resolve_credentials(
        MqttSettings("b", node_id="n", username="u", password_file=secret), {DEFAULT_PASSWORD_ENV: "from-env"}
    )
    assert s.password == "from-file"


def test_password_and_username_from_the_environment():
    s = resolve_credentials(
        MqttSettings("b", node_id="n"), {DEFAULT_USERNAME_ENV: "envuser", DEFAULT_PASSWORD_ENV: "envpw"}
    )
    assert (s.username, s.password) == ("envuser", "envpw")
    named = resolve_credentials(MqttSettings("b", node_id="n", username="u", password_env="MY_PW"), {"MY_PW": "x"})
    assert named.password == "x"


def test_missing_credential_sources_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="password_file .*missing"):
        resolve_credentials(MqttSettings("b", node_id="n", username="u", password_file=tmp_path / "missing"), {})
    with pytest.raises(UserError, match=r"\$MY_PW, which is not set"):
        resolve_credentials(MqttSettings("b", node_id="n", username="u", password_env="MY_PW"), {})
    with pytest.raises(UserError, match="needs a username"):
        resolve_credentials(MqttSettings("b", node_id="n"), {DEFAULT_PASSWORD_ENV: "pw"})


def test_no_credentials_is_anonymous():
    s = resolve_credentials(MqttSettings("b", node_id="n"), {})
    assert s.username is None and s.password is None


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_line_enables_mqtt_and_overrides_the_config():
    assert from_arguments(_args()) is None
    s = from_arguments(_args("--mqtt", "broker:1884", "--mqtt-prefix", "house/sound"))
    assert (s.host, s.port, s.topic_prefix) == ("broker", 1884, "house/sound")
    base = MqttSettings("cfg-broker", node_id="n", keepalive=30)
    assert from_arguments(_args(), base) is base
    merged = from_arguments(_args("--mqtt", "other"), base)
    assert (merged.host, merged.port, merged.keepalive) == ("other", 1883, 30)
    with pytest.raises(UserError, match="--mqtt-prefix needs --mqtt"):
        from_arguments(_args("--mqtt-prefix", "p"))


# -- mode payloads ----------------------------------------------------------------

@given(st.binary(max_size=256) | st.text(max_size=64).map(str.encode))
def test_only_the_exact_mode_names_are_accepted(payload):
    assert parse_mode(payload) == (payload.decode() if payload in {m.encode() for m in MODES} else None)


@given(st.sampled_from(MODES), st.sampled_from(["", " ", "\n", '"', "{}"]), st.booleans())
def test_decorated_mode_names_are_rejected(mode, decoration, upper):
    text = (mode.upper() if upper else mode) + decoration
    assert parse_mode(text.encode()) == (mode if text == mode else None)


def test_the_default_client_id_is_unique_per_state_directory_and_an_explicit_one_is_kept(tmp_path):
    from monitor.mqtt.settings import for_state_dir

    s = MqttSettings("broker.lan", node_id="kitchen")
    one, other = for_state_dir(s, tmp_path / "a"), for_state_dir(s, tmp_path / "b")
    assert one.client_id.startswith("sound-monitor-kitchen-") and one.client_id != other.client_id
    assert for_state_dir(s, tmp_path / "a").client_id == one.client_id  # stable across restarts
    explicit = MqttSettings("broker.lan", node_id="kitchen", client_id="my-monitor")
    assert for_state_dir(explicit, tmp_path / "a").client_id == "my-monitor"


@pytest.mark.parametrize("field", ["topic_prefix", "client_id"])
def test_a_topic_prefix_or_client_id_mqtt_cannot_carry_is_refused(field):
    with pytest.raises(UserError, match=f"{field} is 70000 bytes long; at most 200"):
        MqttSettings("broker.lan", **{field: "x" * 70_000})


def test_config_check_refuses_an_overlong_prefix_in_one_line(tmp_path):
    from conftest import run_cli

    config = tmp_path / "config.yaml"
    config.write_text(f"sources: [{{id: a, mic: default}}]\nmqtt: {{host: b.lan, topic_prefix: {'p' * 70_000}}}\n")
    result = run_cli("config", "--check", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "topic_prefix is 70000 bytes long" in result.stderr
