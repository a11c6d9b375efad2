"""TLS and credentials against a real mosquitto with a throw-away CA made here.

Verification is on by default: a broker certificate from the right CA connects, one
the configured CA did not sign fails with a clear reason. The password never shows
up in any log record or on stderr, even at debug level.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import subprocess
from pathlib import Path

import pytest

from monitor.journal import Journal
from monitor.mqtt import MqttSink, Topics
from tests.mqtt_fixtures import Broker, Subscriber, fast_settings, wait_until

x509 = pytest.importorskip("cryptography.x509", reason="the cryptography package makes the test certificates")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

USER = "monitor"
PASSWORD = "s3cret-Pa55word-XyZ"
T = Topics("sound-monitor/testnode")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def make_ca(directory: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def make_server_cert(directory: Path, ca_key, ca_cert) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path


@pytest.fixture
def pki(tmp_path):
    directory = tmp_path / "pki"
    directory.mkdir()
    ca_key, ca_cert, ca_path = make_ca(directory, "test-ca")
    _, _, wrong_ca_path = make_ca(directory, "other-ca")
    cert, key = make_server_cert(directory, ca_key, ca_cert)
    return {"ca": ca_path, "wrong_ca": wrong_ca_path, "cert": cert, "key": key}


@pytest.fixture
def tls_broker(tmp_path, pki):
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD], check=True, capture_output=True)
    passwords.chmod(0o600)
    server = Broker(
        tmp_path / "broker",
        extra_config=(
            f"cafile {pki['ca']}\ncertfile {pki['cert']}\nkeyfile {pki['key']}\n"
            f"allow_anonymous false\npassword_file {passwords}\n"
        ),
    ).start()
    yield server
    server.stop()


def test_tls_with_verification_and_credentials_delivers_and_never_logs_the_password(tls_broker, pki, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # everything, paho's packet log included
    settings = fast_settings(tls_broker, tls_ca_certs=pki["ca"], username=USER, password=PASSWORD)
    assert settings.tls and not settings.tls_insecure
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(settings, journal) as sink:
        assert wait_until(lambda: sink.connected), sink.last_error
        from tests.test_mqtt import make_alert

        sink.publish_alert(make_alert())
        assert wait_until(lambda: sink.backlog == 0)
        logging.getLogger("test").info("settings in use: %s / %r", settings, settings)
    assert "Sending CONNECT" in caplog.text  # the debug log was really captured
    assert PASSWORD not in caplog.text
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err


def test_a_broker_certificate_from_another_ca_fails_clearly(tls_broker, pki, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = fast_settings(tls_broker, tls_ca_certs=pki["wrong_ca"], username=USER, password=PASSWORD)
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(settings, journal) as sink:
        assert wait_until(lambda: sink.last_error is not None)
        assert not sink.connected
        assert "certificate verification failed" in sink.last_error
        assert "tls_ca_certs" in sink.last_error
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("certificate verification failed" in w and f"127.0.0.1:{tls_broker.port}" in w for w in warnings)
    assert len([w for w in warnings if "certificate" in w]) == 1  # retries do not flood the log
    assert PASSWORD not in caplog.text


def test_a_wrong_password_is_refused_clearly_without_logging_it(tls_broker, pki, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = fast_settings(tls_broker, tls_ca_certs=pki["ca"], username=USER, password="not-the-" + PASSWORD)
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(settings, journal) as sink:
        assert wait_until(lambda: sink.last_error is not None)
        assert "refused" in sink.last_error and "authori" in sink.last_error.lower()
        assert not sink.connected
    assert PASSWORD not in caplog.text


def test_tls_subscriber_sees_the_retained_birth_message(tls_broker, pki, tmp_path):
    """The TLS listener really is what the sink used: a verified TLS client sees its birth."""
    settings = fast_settings(tls_broker, tls_ca_certs=pki["ca"], username=USER, password=PASSWORD)
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(settings, journal) as sink:
        assert wait_until(lambda: sink.connected)
        watcher = Subscriber(tls_broker, T.availability, ca_certs=pki["ca"], credentials=(USER, PASSWORD))
        assert watcher.wait_for(lambda s: s.last_payload(T.availability) == b"online")
        watcher.close()
