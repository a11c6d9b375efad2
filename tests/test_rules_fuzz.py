"""Fuzzing the rules loader: every mutated file loads or gives a clear error, quickly, never a crash."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules import RulesError, RuleSet, parse_rules

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = (ROOT / "rules.yaml").read_bytes()
LABELS = ("glass_breaking", "speech", "scream_or_shout", "footsteps", "door_knock", "dog_bark", "baby_cry",
          "smoke_alarm", "siren", "cough_sneeze_laugh", "background")
PROBLEM_LINE = re.compile(r"^fuzz\.yaml(:\d+)?: \S.*$")
SWAPS = [b"[1, 2]", b"{a: b}", b"~", b"''", b"1e999", b"-1e999", b".nan", b"99999999999999999999999999999",
         b"9" * 5000, b"true", b"-0", b"&x [*x]", b"!!python/object:os.system ls", b"!!binary aGVsbG8=",
         b"\"\\x00\"", b"2026-01-01", b"0x7f", b"0o17", b"<<", b"*undefined"]


def check(data: bytes) -> None:
    """The loader's contract: a RuleSet or a RulesError of `file:line: problem` lines, in bounded time."""
    began = time.perf_counter()
    try:
        result = parse_rules(data, "fuzz.yaml", LABELS)
    except RulesError as exc:
        lines = str(exc).splitlines()
        assert lines and all(PROBLEM_LINE.match(line) for line in lines), lines
    else:
        assert isinstance(result, RuleSet)
    assert time.perf_counter() - began < 15.0  # a hang guard, not a speed test: CI machines are shared


def mutate(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(5)
        i = rng.randrange(len(lines))
        if kind == 0 and len(lines) > 1:  # delete a line
            del lines[i]
        elif kind == 1:  # swap a value for another type
            key, sep, _ = lines[i].partition(b": ")
            lines[i] = key + b": " + rng.choice(SWAPS) if sep else lines[i] + b" " + rng.choice(SWAPS)
        elif kind == 2:  # garbage bytes
            pos = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:pos] + rng.randbytes(rng.randint(1, 8)) + lines[i][pos:]
        elif kind == 3:  # delete a span of characters
            pos = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:pos] + lines[i][pos + rng.randint(1, 6):]
        else:  # duplicate a line elsewhere
            lines.insert(rng.randrange(len(lines)), lines[i])
    return b"\n".join(lines)


@pytest.mark.parametrize("seed", range(20))
def test_mutated_rule_files_load_or_fail_clearly(seed: int):
    rng = random.Random(seed)
    for _ in range(25):
        check(mutate(rng, SHIPPED))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_load_or_fail_clearly(data: bytes):
    check(data)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="-:[]{},&*!<> \n\tab1.0#'\"|", max_size=200))
def test_yaml_punctuation_soup_loads_or_fails_clearly(text: str):
    check(text.encode())


def billion_laughs(levels: int = 9) -> bytes:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines).encode()


@pytest.mark.parametrize("data", [
    billion_laughs(),
    billion_laughs().replace(b"a0: ", b"x-a0: ").replace(b"\na", b"\nx-a") + b"\nrules:\n  - {name: r, sound: *x-a9}",
    b"groups:\n  human: &h [speech, *h]\nrules: []",
    b"x-d: &d {<<: *d}\nrules: []",
    b"x-m: &m {a: 1}\nrules:\n  - {<<: [" + b", ".join([b"*m"] * 20000) + b"], name: r, sound: speech}",
    b"rules: " + b"[" * 5000 + b"]" * 5000,
    b"rules:\n" + b"  - {name: r, sound: speech}\n" * 9000,
    b"rules:\n  - name: r\n    sound: speech\n    persistence: 999999 of 9999999",
    b"rules:\n  - name: r\n    sound: speech\n    cooldown: 99999999999999999999h",
    b"rules:\n  - name: r\n    sound: speech\n    threshold: 1e400",
    b"rules:\n  - name: r\n    sound: speech\n    message: '{score:99999999999999999999.2f}'",
    b"x" * (1 << 20),
    b"rules: []\n---\nrules: []",
    b"\xef\xbb\xbfrules: []",
    b"rules:\n  - name: \x00",
], ids=["billion-laughs", "bomb-as-sound", "recursive-alias", "recursive-merge", "merge-flood", "deep-nesting",
        "too-many-rules", "huge-window-count", "huge-duration", "huge-threshold", "huge-format-width",
        "huge-file", "two-documents", "utf8-bom", "nul-byte"])
def test_hostile_files_are_refused_quickly(data: bytes):
    check(data)


def test_an_alias_bomb_used_as_a_value_is_a_clear_error_not_an_expansion():
    data = billion_laughs().replace(b"a", b"x-a") + b"\nrules:\n  - {name: r, sound: *x-a9}"
    with pytest.raises(RulesError, match=r"fuzz.yaml:\d+: an entry of 'sound' must be a single value, found a list"):
        parse_rules(data, "fuzz.yaml", LABELS)


def test_yaml_tags_never_construct_objects(tmp_path: Path):
    marker = tmp_path / "pwned"
    data = (f"rules:\n  - name: !!python/object/apply:os.system ['touch {marker}']\n    sound: speech\n"
            f"x-also: !!python/object/apply:os.system ['touch {marker}']\n").encode()
    with pytest.raises(RulesError, match=r"fuzz.yaml:2: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"):
        parse_rules(data, "fuzz.yaml", LABELS)
    assert not marker.exists()
