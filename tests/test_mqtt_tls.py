"""TLS and credentials against a real mosquitto with a throw-away CA made here.

Verification is on by default: a broker certificate from the right CA connects, one
the configured CA did not sign fails with a clear reason. The password never shows
up in any log record or on stderr, even at debug level.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.journal import Journal
from monitor.mqtt import MqttSink, Topics
from tests.mqtt_fixtures import Broker, Subscriber, fast_settings, wait_until

USER = "monitor"
PASSWORD = "s3cret-Pa55word-XyZ"
T = Topics("sound-monitor/testnode")
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command makes the test certificates (apt-get install openssl)")
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    openssl(
        "req", "-x509", *EC, "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )
    return cert, key


def make_server_cert(directory: Path, ca_cert: Path, ca_key: Path) -> tuple[Path, Path]:
    """A broker certificate for localhost / 127.0.0.1 signed by the CA: (certificate, key)."""
    cert, key, request = directory / "server.pem", directory / "server.key", directory / "server.csr"
    extensions = directory / "server.ext"
    extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("req", *EC, "-keyout", str(key), "-out", str(request), "-subj", "/CN=localhost")
    openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "1", "-extfile", str(extensions),
    )
    return cert, key


@pytest.fixture
def pki(tmp_path):
    directory = tmp_path / "pki"
    directory.mkdir()
    ca_cert, ca_key = make_ca(directory, "test-ca")
    wrong_ca, _ = make_ca(directory, "other-ca")
    cert, key = make_server_cert(directory, ca_cert, ca_key)
    return {"ca": ca_cert, "wrong_ca": wrong_ca, "cert": cert, "key": key}


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


def test_tls_with_verification_and_credentials_delivers_and_never_logs_the_password(
    tls_broker, pki, tmp_path, caplog, capfd
):
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


def test_plain_mqtt_to_a_tls_port_is_reported_within_the_connect_timeout(tls_broker, tmp_path, caplog):
    settings = fast_settings(tls_broker, connect_timeout=2.0, username=USER, password=PASSWORD)
    assert not settings.tls
    with Journal(tmp_path / "j.sqlite3") as journal, MqttSink(settings, journal) as sink:
        assert wait_until(lambda: sink.last_error is not None, timeout=settings.connect_timeout + 1.5)
        assert not sink.connected and "tls: true" in sink.last_error
    assert any("tls: true" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
