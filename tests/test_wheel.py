"""The installed package works on its own: a wheel carries the model, the rules and the label map.

Builds the wheel as ``pip install .`` does, installs it into a fresh virtual environment and runs
it from a folder outside the repository. The fresh environment borrows the dependencies
(numpy, onnxruntime, ...) of the one running the tests, so no network is needed, but not
sound-monitor itself: that comes from the wheel alone.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from signals import tone, write


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh virtual environment with only the wheel installed."""
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(where / "dist"), str(REPO)], check=True, capture_output=True, timeout=300)  # fmt: skip
    env = where / "env"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    (wheel,) = (where / "dist").glob("sound_monitor-*.whl")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    # A plain path entry, after the environment's own site-packages: the test environment's
    # editable sound-monitor (a .pth import hook) is not loaded from it.
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env / "bin"


def sound_monitor(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bin_dir / "sound-monitor", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})  # fmt: skip


def test_the_wheel_classifies_a_file_outside_the_repository_with_the_shipped_model(installed, tmp_path):
    clip = write(tmp_path / "clip.wav", tone(1000, 6.0, 22050), 22050)
    result = sound_monitor(installed, tmp_path, "classify", str(clip))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{clip}     0.00-   5.00 s")
    where = subprocess.run([installed / "python", "-c", "import monitor; print(monitor.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert str(REPO) not in where


def test_the_wheel_checks_its_shipped_rules_and_passes_the_unchanged_example_config(installed, tmp_path):
    rules = sound_monitor(installed, tmp_path, "check-rules")
    assert rules.returncode == 0 and "shipped_rules/rules.yaml: OK" in rules.stdout, rules.stderr
    example = sound_monitor(installed, tmp_path, "config", "--example").stdout
    (tmp_path / "config.yaml").write_text(example)
    checked = sound_monitor(installed, tmp_path, "config", "--check", "config.yaml")
    assert checked.returncode == 0, checked.stderr
    assert "shipped_model/sound-monitor.onnx" in checked.stdout


def test_the_wheel_carries_the_training_label_map(installed, tmp_path):
    code = "from monitor.train.labelmap import load_label_map; print(len(load_label_map(None).model_labels))"
    result = subprocess.run([installed / "python", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0 and int(result.stdout) > 1, result.stderr


def test_every_module_of_the_checkout_is_in_the_wheel(installed):
    (wheel,) = installed.parent.parent.glob("dist/sound_monitor-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(path.relative_to(REPO)) for path in (REPO / "monitor").rglob("*.py")}
    assert modules <= shipped, "pyproject.toml lists the packages: add the new ones"
