"""The daemon's config file: valid files become typed settings, broken ones list every problem with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from monitor.config import ConfigError, load_config, parse_config
from monitor.shipped import model_path, rules_path

ENV = {"HOME": "/home/tester"}


def parse(text: str, environ: dict[str, str] | None = None, path: Path = Path("/etc/sound-monitor/config.yaml")):
    return parse_config(text.encode(), path, ENV if environ is None else environ)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return str(info.value).splitlines()


def test_a_minimal_config_gets_documented_defaults():
    config = parse("sources: [{id: room, mic: default}]\n")
    (source,) = config.sources
    assert (source.id, source.kind, source.target, source.spec) == ("room", "mic", None, "mic")
    assert config.hop == 1.0 and config.mode is None and config.mqtt is None
    assert config.rules == rules_path()  # no rules.yaml beside the config file: the shipped rules
    assert config.model.path == model_path()
    assert config.state_dir == Path("/home/tester/.local/state/sound-monitor")
    assert not config.clips.enabled and config.logging.level == "info"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    config = parse(
        "sources:\n  - {id: a, file: rec/a.wav, realtime: true, rules: a-rules.yaml}\n"
        "model: {path: m.onnx, threads: 2}\nrules: /abs/rules.yaml\n",
        path=tmp_path / "config.yaml",
    )
    (source,) = config.sources
    assert source.target == str(tmp_path / "rec/a.wav") and source.realtime
    assert config.rules_for(source) == tmp_path / "a-rules.yaml"
    assert config.model.path == tmp_path / "m.onnx" and config.model.threads == 2
    assert config.rules == Path("/abs/rules.yaml")


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"STATE_DIRECTORY": "/var/lib/sound-monitor:/var/lib/other", "XDG_STATE_HOME": "/x"}, "/var/lib/sound-monitor"),
        ({"XDG_STATE_HOME": "/x/state", "HOME": "/h"}, "/x/state/sound-monitor"),
        ({"HOME": "/h"}, "/h/.local/state/sound-monitor"),
    ],
)
def test_the_state_directory_follows_systemd_then_xdg_then_home(environ, expected):
    assert parse("sources: [{id: a, mic: default}]\n", environ).state_dir == Path(expected)


def test_an_explicit_state_dir_wins_over_the_environment():
    config = parse("sources: [{id: a, mic: default}]\nstate_dir: /data/sm\n", {"STATE_DIRECTORY": "/var/lib/x"})
    assert config.state_dir == Path("/data/sm")


def test_mqtt_section_maps_to_the_sink_settings_and_hides_the_password():
    config = parse("sources: [{id: a, mic: x}]\nmqtt: {host: broker.lan, port: 1884, username: u, password: s3cret}\n")
    assert config.mqtt is not None
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.password) == ("broker.lan", 1884, "s3cret")
    assert config.mqtt.health_interval == 0  # the daemon paces health reports itself
    assert "s3cret" not in repr(config.mqtt) and "s3cret" not in repr(config)


def test_mqtt_secrets_may_come_from_the_environment_or_a_file(tmp_path):
    env = {**ENV, "SOUND_MONITOR_MQTT_USERNAME": "env-user", "SOUND_MONITOR_MQTT_PASSWORD": "env-pass"}
    config = parse("sources: [{id: a, mic: x}]\nmqtt: {host: h}\n", env)
    assert config.mqtt is not None and (config.mqtt.username, config.mqtt.password) == ("env-user", "env-pass")
    (tmp_path / "pw").write_text("from-file\n")
    config = parse("sources: [{id: a, mic: x}]\nmqtt: {host: h, username: u, password_file: pw}\n", env,
                   path=tmp_path / "config.yaml")
    assert config.mqtt is not None and config.mqtt.password == "from-file"


def test_clip_settings_are_read():
    config = parse(
        "sources: [{id: a, mic: x}]\n"
        "clips: {enabled: true, pre_seconds: 3, post_seconds: 2, speech_rules: [baby], max_total_mb: 10}\n"
    )
    clips = config.clips
    assert clips.enabled and (clips.pre_seconds, clips.post_seconds, clips.max_total_mb) == (3, 2, 10)
    assert clips.speech_rules == ("baby",) and clips.speech_labels == ("speech",)


BROKEN = [
    ("", ":", "file is empty"),
    ("sources: [{id: a, mic: x}\n", ":", "YAML syntax error"),
    ("- just a list\n", ":1:", "expected a mapping"),
    ("hop: 1\n", ":1: sources:", "missing"),
    ("sources: []\n", ":1: sources:", "is empty"),
    ("sources: [{mic: x}]\n", ":1: sources[0].id:", "missing"),
    ("sources: [{id: a}]\n", ":1: sources[0]:", "has none of 'mic', 'file', 'url'"),
    ("sources: [{id: a, mic: x, url: 'rtsp://c'}]\n", ":1: sources[0]:", "more than one of"),
    ("sources: [{id: a, mic: x}, {id: a, mic: y}]\n", ":1: sources[1].id:", "duplicate source id 'a'"),
    ("sources: [{id: 'a/b', mic: x}]\n", ":1: sources[0].id:", "may only use letters"),
    ("sources: [{id: a, mic: x, realtime: true}]\n", ":1: sources[0].realtime:", "only applies to 'file'"),
    ("sources: [{id: a, file: f.wav, realtime: sometimes}]\n", "sources[0].realtime:", "expected true or false"),
    ("sources: [{id: a, mic: x}]\nhop: 10\n", ":2: hop:", "outside 0.25..5"),
    ("sources: [{id: a, mic: x}]\nhop: fast\n", ":2: hop:", "expected a number"),
    ("sources: [{id: a, mic: x}]\nhop: .nan\n", ":2: hop:", ".nan is not a finite number (give a number in 0.25..5)"),
    ("sources: [{id: a, mic: x}]\nhop: -.inf\n", ":2: hop:", "-.inf is not a finite number"),
    ("sources: [{id: a, mic: x}]\nhop: 1.0e+999\n", ":2: hop:", "1.0e+999 is not a finite number"),
    ("sources: [{id: a, mic: x}]\nclips: {speech_threshold: .NaN}\n", ":2: clips.speech_threshold:", "not a finite"),
    ("sources: [{id: a, mic: x}]\nmodel: {threads: 010}\n", ":2: model.threads:", "write it in plain decimal digits"),
    ("sources: [{id: a, mic: x}]\nhop: 1:30\n", ":2: hop:", "expected a number, got '1:30'"),
    ("sources: [{id: a, mic: x}]\nmqtt: {host: h, port: 1:30}\n", ":2: mqtt.port:", "expected a whole number"),
    ("sources: [{id: a, mic: x}]\nmqtt: {host: h, port: " + "9" * 5000 + "}\n", ":2: mqtt.port:", "expected a whole"),
    ("sources: [{id: a, mic: x}]\nmode: holiday\n", ":2: mode:", "not one of home, away, night"),
    ("sources: [{id: a, mic: x}]\nmodel: {threads: 0}\n", ":2: model.threads:", "outside 1..64"),
    ("sources: [{id: a, mic: x}]\nsoruces: []\n", ":2: soruces:", "did you mean 'sources'?"),
    ("sources: [{id: a, mic: x}]\nmqtt: {port: 1883}\n", ":2: mqtt.host:", "missing"),
    ("sources: [{id: a, mic: x}]\nmqtt: {host: h, protocol: 4}\n", ":2: mqtt.protocol:", "not one of 3.1.1, 5"),
    ("sources: [{id: a, mic: x}]\nmqtt: {host: h, tls_ca_certs: /no/ca.crt}\n", "mqtt.tls_ca_certs:", "file not found"),
    ("sources: [{id: a, mic: x}]\nmqtt: {host: h, topic_prefix: 'a/#'}\n", ":2: mqtt:", "must not contain the wildcards"),
    ("sources: [{id: a, mic: x}]\nmqtt: {host: h, password_env: NOPE}\n", ":2: mqtt:", "$NOPE, which is not set"),
    ("sources: [{id: a, mic: x}]\nclips: {pre_seconds: 40}\n", ":2: clips.pre_seconds:", "outside 0..30"),
    ("sources: [{id: a, mic: x}]\nclips: {max_seconds: 8}\n", "clips.max_seconds:", "longer than pre_seconds"),
    ("sources: [{id: a, mic: x}]\nlogging: {level: loud}\n", ":2: logging.level:", "not one of debug"),
    ("sources: [{id: a, mic: x}]\nhop: 1\nhop: 2\n", ":3: hop:", "given twice"),
    ("sources: !!python/object/apply:os.system [echo]\n", ":1: sources[0]:", "expected a mapping"),  # tags build nothing
]


@pytest.mark.parametrize("text, where, message", BROKEN)
def test_a_broken_config_names_file_line_key_and_problem(text, where, message):
    lines = problems(text)
    assert any(line.startswith("/etc/sound-monitor/config.yaml") and where in line and message in line for line in lines), lines


def test_every_problem_is_reported_at_once():
    lines = problems(
        "sources:\n  - {id: a, mic: x}\n  - {id: a, file: f.wav}\nhop: 0\nclips: {enabled: maybe}\nlogging: {level: x}\n"
    )
    assert len(lines) == 4
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5", "6"]


def test_rules_beside_the_config_file_take_precedence_over_the_shipped_ones(tmp_path):
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    config = parse("sources: [{id: a, mic: default}]\n", path=tmp_path / "config.yaml")
    assert config.rules == tmp_path / "rules.yaml"


def test_config_check_exit_codes_and_messages(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("sources: [{id: a, mic: default}]\n")
    result = run_cli("config", "--check", str(good))
    assert result.returncode == 0 and "OK" in result.stdout
    assert f"{rules_path()}: " in result.stdout and "rules OK for" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [{id: a}]\nhop: 9\n")
    result = run_cli("config", "--check", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{bad}:1: sources[0]" in result.stderr and f"{bad}:2: hop" in result.stderr
    missing = run_cli("config", "--check", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_the_example_config_passes_its_own_check(tmp_path):
    example = run_cli("config", "--example")
    assert example.returncode == 0 and example.stdout.lstrip().startswith("#")
    path = tmp_path / "config.yaml"
    path.write_text(example.stdout)
    checked = run_cli("config", "--check", str(path))
    assert checked.returncode == 0, checked.stderr
    config = load_config(path, ENV)
    assert config.sources and config.rules == rules_path() and config.model.path == model_path()


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("model: {path: missing.onnx}", "model.path: model file not found"),
        ("model: {path: folder}", "the model path is a directory"),
        ("model: {path: /dev/zero}", "the model path is a character device"),
        ("rules: folder", "the rules file is a directory"),
        ("rules: missing.yaml", "rules file not found"),
    ],
)
def test_config_check_fails_on_whatever_stops_the_daemon(tmp_path, setting, problem):
    (tmp_path / "folder").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(f"sources: [{{id: a, mic: default}}]\n{setting}\n")
    checked = run_cli("config", "--check", str(path))
    assert checked.returncode == 2 and problem in checked.stderr and "Traceback" not in checked.stderr
    ran = run_cli("run", "--config", str(path), timeout=60)
    assert ran.returncode == 2 and problem.removeprefix("model.path: ") in ran.stderr


def test_config_check_fails_on_a_file_source_the_daemon_cannot_open(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("sources: [{id: rec, file: nosuch.wav}]\n")
    checked = run_cli("config", "--check", str(path))
    assert checked.returncode == 2 and f"{path}:1: sources rec: {tmp_path / 'nosuch.wav'}: no such file" in checked.stderr


def test_config_check_also_checks_the_rules_against_the_model(tmp_path, tiny_model):
    config = tmp_path / "config.yaml"
    config.write_text(f"sources: [{{id: a, mic: default}}]\nmodel: {{path: {tiny_model}}}\n")
    (tmp_path / "rules.yaml").write_text("rules:\n  - {name: r, sound: low}\n")
    result = run_cli("config", "--check", str(config))
    assert result.returncode == 0 and f"{tmp_path / 'rules.yaml'}: 1 rules OK for tiny-test-model" in result.stdout
    (tmp_path / "rules.yaml").write_text("rules:\n  - {name: r, sound: glass}\n")
    result = run_cli("config", "--check", str(config))
    assert result.returncode == 2 and f"{tmp_path / 'rules.yaml'}:2: unknown sound 'glass'" in result.stderr
