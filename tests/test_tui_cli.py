"""``sound-monitor tui`` arguments: mistakes are one line and exit 2, before the screen is taken over."""

from __future__ import annotations

import argparse
from pathlib import Path

from conftest import run_cli
from monitor.commands.tui import _rules
from tiny_model import LABELS
from tui_support import scene


def test_attach_refuses_standalone_options() -> None:
    done = run_cli("tui", "--attach", "--source", "mic", "--rules", "r.yaml")
    assert done.returncode == 2
    assert "--attach watches the daemon" in done.stderr and "--source, --rules" in done.stderr
    assert "Traceback" not in done.stderr


def test_mqtt_options_need_attach() -> None:
    done = run_cli("tui", "--mqtt", "localhost:1883")
    assert done.returncode == 2 and "go with --attach" in done.stderr


def test_a_bad_broker_address_is_a_user_error() -> None:
    done = run_cli("tui", "--attach", "--mqtt", "mqtt://host")
    assert done.returncode == 2 and "no URL scheme" in done.stderr


def test_an_invalid_rules_file_lists_its_problems(tmp_path: Path, tiny_model: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrules:\n  - name: x\n    sound: glass_breaking\n")
    audio = scene(tmp_path / "a.wav", hum=1.0, loud=1.0, after=0.0)
    done = run_cli("tui", "--source", str(audio), "--rules", str(rules), "--model", str(tiny_model))
    assert done.returncode == 2
    assert f"{rules}:4:" in done.stderr and "glass_breaking" in done.stderr


def test_a_missing_source_file_is_a_user_error(tmp_path: Path, tiny_model: Path) -> None:
    done = run_cli("tui", "--source", str(tmp_path / "nope.wav"), "--model", str(tiny_model))
    assert done.returncode == 2 and "nope.wav" in done.stderr and "Traceback" not in done.stderr


def test_default_rules_that_do_not_fit_the_model_mean_no_rules_and_say_why(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./rules.yaml: the shipped one, written for the real model's labels
    rules, note = _rules(argparse.Namespace(rules=None), LABELS, {}, "tiny-test-model")
    assert rules.rules == ()
    assert "does not fit model 'tiny-test-model'" in note and "check-rules" in note
