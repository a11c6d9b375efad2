"""The shipped systemd unit and sysusers snippet pass systemd's own checks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "sound-monitor.service"
SYSUSERS = REPO / "systemd" / "sound-monitor.sysusers.conf"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)")


def installed_unit(tmp_path: Path) -> Path:
    """The unit as installed: ExecStart pointing at an executable that exists on this machine
    (verify checks that the command exists; /opt/sound-monitor is where the README installs it)."""
    text = UNIT.read_text()
    assert "ExecStart=/opt/sound-monitor/bin/sound-monitor run --config /etc/sound-monitor/config.yaml" in text
    path = tmp_path / "sound-monitor.service"
    path.write_text(text.replace("/opt/sound-monitor/bin/sound-monitor", sys.executable + " -m monitor"))
    return path


def directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if match:
            out.setdefault(match[1], []).append(match[2])
    return out


@needs_analyze
def test_systemd_analyze_verify_passes(tmp_path):
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(installed_unit(tmp_path))],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    if result.returncode != 0 and "Failed to" in result.stderr and "sound-monitor" not in result.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr
    assert "sound-monitor.service" not in result.stderr, result.stderr  # no warnings about our unit


@needs_analyze
def test_security_exposure_stays_low(tmp_path):
    result = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", str(installed_unit(tmp_path))],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    match = re.search(r"Overall exposure level for sound-monitor.service: ([0-9.]+)", result.stdout)
    if match is None:
        pytest.skip(f"systemd-analyze security --offline is unavailable: {result.stderr.strip()[:200]}")
    assert float(match[1]) <= 2.0, result.stdout


def test_the_unit_is_a_watchdogged_notify_service_that_does_not_restart_on_config_errors():
    d = directives(UNIT.read_text())
    assert d["Type"] == ["notify"] and d["NotifyAccess"] == ["main"]
    assert int(d["WatchdogSec"][0]) >= 15  # longer than the first window (5 s) plus model loading
    assert d["Restart"] == ["on-failure"] and d["RestartPreventExitStatus"] == ["2"]
    assert d["User"] == ["sound-monitor"] and d["SupplementaryGroups"] == ["audio"]
    assert d["StateDirectory"] == ["sound-monitor"] and d["ConfigurationDirectory"] == ["sound-monitor"]
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_sysusers_creates_the_user_in_the_audio_group(tmp_path):
    sysusers = shutil.which("systemd-sysusers")
    if sysusers is None:
        pytest.skip("systemd-sysusers is not installed")
    result = subprocess.run([sysusers, "--dry-run", str(SYSUSERS)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0 and "dry-run" in result.stderr:
        pytest.skip(f"this systemd-sysusers has no --dry-run: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in SYSUSERS.read_text().splitlines() if line and not line.startswith("#")]
    assert ["m", "sound-monitor", "audio"] in lines
