"""Fuzzing the other loaders: every mutated config, model metadata map and mode.json loads or is
refused in words - never a traceback, a hang or more than 100 MB of memory."""

from __future__ import annotations

import json
import logging
import random
import resource
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import ConfigError, parse_config
from monitor.config.schema import Config
from monitor.daemon.mode_store import ModeStore, StoredMode
from monitor.errors import ModelError
from monitor.model.metadata import ModelMetadata
from monitor.rules.schema import MODES
from test_rules_fuzz import SWAPS, mutate
from tiny_model import tiny_metadata

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "monitor" / "config" / "example.yaml").read_bytes()
CASES = 300  # per loader; a few seconds each
NUMBERS = ["nan", "NaN", "inf", "-inf", "1e999", "-0", "0", "1e-320", "99999999999999999999", "0x10", "", " ",
           "[]", "{}", "null", "true", "1" * 5000, "\u202e", "\x00", "-1", "3.5", "[\"nan\"]", "{\"a\": NaN}"]


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bounded(case: Callable[[], object], expected: tuple[type[Exception], ...]) -> None:
    """One case: a result or an expected one-line user error, in bounded time and memory."""
    began, rss = time.perf_counter(), max_rss_mb()
    try:
        case()
    except expected as exc:
        assert str(exc).strip() and "Traceback" not in str(exc)
    assert time.perf_counter() - began < 10.0  # a hang guard, not a speed test
    assert max_rss_mb() - rss < 100


def test_mutated_configs_load_or_fail_clearly():
    rng = random.Random(15)
    for _ in range(CASES):
        data = mutate(rng, EXAMPLE)

        def case() -> None:
            assert isinstance(parse_config(data, Path("/etc/sound-monitor/config.yaml"), {}), Config)

        bounded(case, (ConfigError,))


def test_model_metadata_with_mutated_values_loads_or_fails_clearly():
    rng = random.Random(15)
    props = tiny_metadata().to_props()
    for _ in range(CASES):
        mutated = dict(props)
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(sorted(props))
            choice = rng.randrange(3)
            if choice == 0:
                mutated[key] = rng.choice(NUMBERS)
            elif choice == 1:
                mutated[key] = rng.choice(SWAPS).decode("utf-8", "replace")
            else:
                mutated.pop(key, None)

        def case() -> None:
            assert isinstance(ModelMetadata.from_props(mutated, "fuzz.onnx"), ModelMetadata)

        bounded(case, (ModelError,))


def plausible(stored: StoredMode | None) -> bool:
    return stored is None or (stored.mode in MODES and 0 <= stored.set_at <= 1_700_086_400.0)


def test_mutated_mode_files_are_restored_or_ignored(tmp_path: Path):
    rng = random.Random(15)
    store = ModeStore(tmp_path, clock=lambda: 1_700_000_000.0)
    good = json.dumps({"mode": "away", "set_at": 1_699_999_000.0}).encode()
    logging.getLogger("monitor.daemon.mode_store").setLevel(logging.CRITICAL)  # thousands of expected warnings
    try:
        for _ in range(CASES):
            if rng.random() < 0.5:
                data = mutate(rng, good.replace(b", ", b",\n"))
            else:
                data = json.dumps({"mode": rng.choice(["away", "home", "x" * 100]),
                                   "set_at": rng.choice(NUMBERS)}).encode().replace(b'"set_at": "', b'"set_at": ')
            store.path.write_bytes(data)
            bounded(lambda: plausible(store.load()) or pytest.fail(repr(data)), ())
    finally:
        logging.getLogger("monitor.daemon.mode_store").setLevel(logging.NOTSET)
