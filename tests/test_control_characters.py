"""Text from a rules file never drives a terminal: ESC, NUL and other control characters in rule
names and messages reach logs and command output escaped (``\\x1b``), never raw."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from daemon_support import RULES, scene, write_config
from monitor.daemon.logfmt import fields

CONTROL = [chr(c) for c in range(32) if chr(c) != "\n"] + ["\x7f", "\x9b", "\u202e"]  # C0, DEL, CSI, bidi override
MESSAGE = r'message: "\e[31mred\0 \u202e{rule}"'  # YAML escapes: ESC, NUL, right-to-left override


def assert_no_control_characters(text: str) -> None:
    found = sorted({repr(c) for c in text if c in CONTROL})
    assert not found, f"raw control characters {found} in:\n{text}"


def test_log_fields_escape_every_control_character():
    line = fields(rule="\x00nul\x1b[31m", message="a\tb\u2028c")
    assert line == r'rule="\x00nul\x1b[31m" message="a\tb\u2028c"'


def test_check_rules_shows_a_name_with_esc_escaped(tmp_path: Path, tiny_model: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text('rules:\n  - name: "\\0nul\\e[31mred"\n    sound: low\n')
    result = run_cli("check-rules", "--model", str(tiny_model), str(rules))
    assert result.returncode == 1
    assert f"{rules}:2: rule name contains the control character '\\x00'" in result.stderr
    assert_no_control_characters(result.stdout + result.stderr)


def test_a_message_with_control_characters_is_escaped_in_the_log_detect_and_alerts(tmp_path: Path, tiny_model: Path):
    scene(tmp_path / "scene.wav", seconds=16, sound=(5.0, 8.0))
    config = write_config(tmp_path, tiny_model, "{id: room, file: scene.wav}", rules=RULES + f"    {MESSAGE}\n")
    run = run_cli("run", "--config", str(config), timeout=60)
    assert run.returncode == 0, run.stderr
    (alert,) = [line for line in run.stderr.splitlines() if "event=alert " in line]
    assert r'message="\x1b[31mred\x00 \u202elow_sound"' in alert
    detect = run_cli("detect", "--model", str(tiny_model), "--rules", str(tmp_path / "rules.yaml"),
                     str(tmp_path / "scene.wav"))
    assert detect.returncode == 0 and r"\x1b[31mred\x00 \u202elow_sound" in detect.stdout, detect.stderr
    listed = run_cli("alerts", "--state-dir", str(tmp_path / "state"))
    assert listed.returncode == 0 and r"\x1b[31mred\x00" in listed.stdout, listed.stderr
    assert_no_control_characters(run.stderr + detect.stdout + detect.stderr + listed.stdout)
