"""``sound-monitor check-rules``: exit codes and messages, run as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tiny_model import make_tiny_model, tiny_metadata

ROOT = Path(__file__).resolve().parents[1]
MODEL_LABELS = ("glass_breaking", "speech", "scream_or_shout", "footsteps", "door_knock", "door", "dog_bark",
                "baby_cry", "smoke_alarm", "siren", "gunshot", "cough_sneeze_laugh", "background", "other")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model") / "m.onnx", tiny_metadata(labels=MODEL_LABELS))


def check_rules(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "check-rules", *args], cwd=cwd,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)


def test_the_shipped_rules_are_valid_and_summarised(model: Path):
    result = check_rules("rules.yaml", "--model", str(model))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rules.yaml: OK, 8 rules; level gate -65 dBFS; mode now: ")
    assert "  intruder: glass_break then human_while_away within 60s; away; critical; cooldown 120s" in result.stdout
    assert "  scream: scream_or_shout>=0.50; 2 of 3;" in result.stdout
    assert "  footsteps_while_away: footsteps>=0.50; 3 of 4;" in result.stdout
    assert result.stderr == ""


def test_without_a_file_argument_the_rules_file_in_the_working_directory_is_checked(model: Path, tmp_path: Path):
    (tmp_path / "rules.yaml").write_text("rules:\n  - {name: only, sound: door}\n")
    result = check_rules("--model", str(model), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rules.yaml: OK, 1 rules")


def test_invalid_rules_list_every_problem_and_exit_1(model: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n    sound: glass\n    cooldown: forever\n  - name: a\n    sound: door\n")
    result = check_rules(str(bad), "--model", str(model))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{bad}:3: unknown sound 'glass': the model has no such label and no group has that name "
        "(did you mean 'glass_breaking'?)",
        f"{bad}:4: 'cooldown' 'forever' is invalid: not a duration (e.g. 30s, 2m or 1m30s)",
        f"{bad}:5: duplicate rule name 'a' (first used on line 2)",
        f"{bad}: 3 problems, rules not valid",
    ]
    assert "Traceback" not in result.stderr


def test_a_missing_rules_file_is_an_other_error_exit_2_with_a_hint_for_this_command(model: Path, tmp_path: Path):
    result = check_rules(str(tmp_path / "none.yaml"), "--model", str(model))
    assert result.returncode == 2
    assert result.stderr == (f"sound-monitor: error: rules file not found: {tmp_path / 'none.yaml'} "
                             "(check-rules FILE, or ./rules.yaml by default)\n")  # fmt: skip
    assert "--rules" not in result.stderr


def test_a_bad_value_in_defaults_is_reported_once_not_once_per_rule(model: Path, tmp_path: Path):
    rules = tmp_path / "r.yaml"
    rules.write_text("defaults:\n  cooldown: soon\nrules:\n" + "".join(f"  - {{name: r{n}, sound: speech}}\n" for n in range(5)))
    result = check_rules(str(rules), "--model", str(model))
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if "soon" in line] == [
        f"{rules}:2: 'cooldown' 'soon' is invalid: not a duration (e.g. 30s, 2m or 1m30s)"]


def test_an_empty_rules_file_has_the_documented_level_gate(model: Path, tmp_path: Path):
    (tmp_path / "r.yaml").write_text("rules: []\n")
    result = check_rules(str(tmp_path / "r.yaml"), "--model", str(model))
    assert result.returncode == 0 and "0 rules; level gate -70 dBFS" in result.stdout


def test_a_missing_model_is_a_user_error_exit_2(tmp_path: Path):
    result = check_rules("rules.yaml", "--model", str(tmp_path / "none.onnx"))
    assert result.returncode == 2
    assert result.stderr.startswith("sound-monitor: error: model file not found")
