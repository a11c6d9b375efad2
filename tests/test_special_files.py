"""A file the user names that is not a small regular file - a FIFO, /dev/zero, a directory,
a huge file - is refused at once with a one-line reason: never read without bound, never a hang."""

from __future__ import annotations

import logging
import os
import re
import resource
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_cli
from monitor.config import ConfigError, load_config
from monitor.daemon.mode_store import ModeStore
from monitor.errors import ModelError
from monitor.model.runner import ModelRunner
from monitor.rules import RulesError, load_rules
from monitor.smallfile import FileRefused, read_small_file

LABELS = ("speech",)


def fifo(path: Path) -> str:
    os.mkfifo(path)
    return "is a FIFO (named pipe), not a regular file"


def dev_zero(path: Path) -> str:
    path.symlink_to("/dev/zero")
    return "is a character device, not a regular file"


def dev_urandom(path: Path) -> str:
    path.symlink_to("/dev/urandom")
    return "is a character device, not a regular file"


def directory(path: Path) -> str:
    path.mkdir()
    return "is a directory, not a regular file"


def sparse_gigabyte(path: Path) -> str:
    with path.open("wb") as f:
        f.truncate(1 << 30)  # takes no disk space; reading it would take a gigabyte of memory
    return f"is {1 << 30} bytes, larger than the"


SPECIAL = [fifo, dev_zero, dev_urandom, directory, sparse_gigabyte]


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.timeout(10)
@pytest.mark.parametrize("make", SPECIAL, ids=lambda f: f.__name__)
def test_the_reader_refuses_what_is_not_a_small_regular_file(tmp_path: Path, make: Callable[[Path], str]):
    path = tmp_path / "special"
    reason = make(path)
    before = max_rss_mb()
    with pytest.raises(FileRefused, match="^" + re.escape(reason)) as refused:
        read_small_file(path, 1000)
    assert not refused.value.missing
    assert max_rss_mb() - before < 50


def test_the_reader_reads_at_most_the_limit(tmp_path: Path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000)
    assert read_small_file(path, 1000) == b"x" * 1000
    with pytest.raises(FileRefused, match="is 1000 bytes, larger than the 999-byte limit"):
        read_small_file(path, 999)
    with pytest.raises(FileRefused) as missing:
        read_small_file(tmp_path / "nothing", 10)
    assert missing.value.missing


LOADERS = {
    "rules": (lambda path: load_rules(path, LABELS), RulesError),
    "config": (lambda path: load_config(path, {}), ConfigError),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("what", LOADERS)
@pytest.mark.parametrize("make", SPECIAL, ids=lambda f: f.__name__)
def test_a_special_rules_or_config_file_is_one_problem_line(tmp_path: Path, make: Callable[[Path], str], what: str):
    load, error_type = LOADERS[what]
    path = tmp_path / f"{what}.yaml"
    reason = make(path)
    with pytest.raises(error_type) as error:
        load(path)
    assert str(error.value).startswith(f"{path}: the {what} file {reason}")
    assert len(str(error.value).splitlines()) == 1


@pytest.mark.timeout(10)
@pytest.mark.parametrize("make", SPECIAL, ids=lambda f: f.__name__)
def test_a_special_mode_store_is_ignored_with_a_warning(tmp_path: Path, make: Callable[[Path], str], caplog):
    store = ModeStore(tmp_path)
    reason = make(store.path)
    with caplog.at_level(logging.WARNING):
        assert store.load() is None
    assert f"{store.path} {reason}" in caplog.text


@pytest.mark.timeout(10)
@pytest.mark.parametrize("make", [fifo, dev_zero, directory], ids=lambda f: f.__name__)
def test_a_special_model_path_says_what_it_is(tmp_path: Path, make: Callable[[Path], str]):
    path = tmp_path / "model.onnx"
    reason = make(path)
    with pytest.raises(ModelError, match="^" + re.escape(f"{path}: the model path {reason}")):
        ModelRunner(path)


def test_a_secret_file_that_is_a_fifo_is_named_as_one(tmp_path: Path):
    os.mkfifo(tmp_path / "pw")
    config = tmp_path / "config.yaml"
    config.write_text("sources: [{id: a, mic: x}]\nmqtt: {host: h, username: u, password_file: pw}\n")
    with pytest.raises(ConfigError, match=r"config.yaml:2: mqtt.password_file: \S+/pw is a FIFO \(named pipe\)"):
        load_config(config, {})


def test_check_rules_and_config_check_on_a_fifo_answer_at_once(tmp_path: Path, tiny_model: Path):
    os.mkfifo(tmp_path / "pipe")
    rules = run_cli("check-rules", "--model", str(tiny_model), str(tmp_path / "pipe"), timeout=30)
    assert rules.returncode == 1 and "pipe: the rules file is a FIFO (named pipe)" in rules.stderr
    config = run_cli("config", "--check", str(tmp_path / "pipe"), timeout=30)
    assert config.returncode == 2 and "pipe: the config file is a FIFO (named pipe)" in config.stderr
    assert "Traceback" not in rules.stderr + config.stderr
