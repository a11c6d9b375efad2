"""Typed reading of YAML nodes with problems collected, not raised.

Takes composed YAML nodes; gives Python values (strings, numbers, durations, name
lists) read from each scalar's *raw text*, and records a :class:`Problem` with the
node's line for anything of the wrong shape, so the loader can report every
problem of a file at once.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from typing import TypeVar

import yaml

from monitor.rules.yamlsafe import Problem, line_of, mapping_items

T = TypeVar("T")
NULL_TAG = "tag:yaml.org,2002:null"
# Tags YAML's own resolver assigns (or a user may write, like !!str); anything else,
# e.g. !!python/object, is refused rather than read as text.
PLAIN_TAGS = frozenset("tag:yaml.org,2002:" + t for t in
                       ("str", "int", "float", "bool", "null", "timestamp", "seq", "map", "merge"))
TRUE_WORDS = ("true", "yes", "on")
FALSE_WORDS = ("false", "no", "off")


def did_you_mean(word: str, choices: Iterable[str], what: str) -> str:
    choices = sorted(set(choices))
    lowered = word.lower()
    close = [c for c in choices if lowered and lowered in c.lower()][:3] or \
        difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    shown = ", ".join(choices[:15]) + (", ..." if len(choices) > 15 else "")
    return f"known {what}: {shown}" if choices else f"no {what} are defined"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"'{node.value[:40]}'"


class Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def tagged(self, node: yaml.Node) -> bool:
        """Report (once per node) a YAML tag the schema has no use for."""
        if node.tag in PLAIN_TAGS:
            return False
        self.problem(node, f"YAML tag '{node.tag[:60]}' is not allowed", "remove the '!' tag")
        return True

    def problem(self, node: yaml.Node | None, message: str, hint: str = "") -> None:
        """Record a problem once: a bad value in ``defaults:`` is read by every rule, but is one mistake."""
        problem = Problem(line_of(node) if node is not None else 0, message, hint)
        if problem not in self.problems:
            self.problems.append(problem)

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...],
                free_prefix: str | None = None) -> dict[str, yaml.Node]:
        """The keys of a mapping (unknown and duplicate keys reported); {} if not a mapping.
        Keys starting with ``free_prefix`` are skipped unchecked (a place for YAML anchors)."""
        if self.tagged(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping of 'key: value' lines, found {_kind(node)}")
            return {}
        result: dict[str, yaml.Node] = {}
        for key, value in mapping_items(node, self.problems):
            if not isinstance(key, yaml.ScalarNode):
                self.problem(key, f"{what} has a key that is {_kind(key)}", "keys are plain words")
                continue
            if free_prefix and key.value.startswith(free_prefix):
                continue
            if key.value in result:
                self.problem(key, f"duplicate key '{key.value}' in {what}", "each key may appear once")
            elif allowed and key.value not in allowed:
                self.problem(key, f"unknown key '{key.value}' in {what}", did_you_mean(key.value, allowed, "keys"))
            else:
                result[key.value] = value
        return result

    def scalar(self, node: yaml.Node, what: str) -> str | None:
        if self.tagged(node):
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, f"{what} must be a single value, found {_kind(node)}")
            return None
        if node.tag == NULL_TAG and node.style is None:
            self.problem(node, f"{what} has no value", "write a value after the colon")
            return None
        return node.value

    def text(self, node: yaml.Node, what: str) -> str | None:
        value = self.scalar(node, what)
        if value is not None and not value.strip():
            self.problem(node, f"{what} is empty")
            return None
        return value.strip() if value is not None else None

    def parsed(self, node: yaml.Node, what: str, parse: Callable[[str], T], example: str) -> T | None:
        """A scalar through ``parse``; its ValueError becomes a problem with an example as hint."""
        raw = self.text(node, what)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            self.problem(node, f"{what} '{raw[:40]}' is invalid: {exc}", f"e.g. {example}")
            return None

    def number(self, node: yaml.Node, what: str, low: float, high: float, example: str) -> float | None:
        def parse(raw: str) -> float:
            try:
                value = float(raw.replace("_", ""))
            except ValueError:
                raise ValueError("not a number") from None
            if not math.isfinite(value) or not low <= value <= high:
                raise ValueError(f"must be between {low:g} and {high:g}")
            return value

        return self.parsed(node, what, parse, example)

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        def parse(raw: str) -> bool:
            if raw.lower() in TRUE_WORDS + FALSE_WORDS:
                return raw.lower() in TRUE_WORDS
            raise ValueError("not true or false")

        return self.parsed(node, what, parse, "true or false")

    def names(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
        """One name or a list of names, each with its node (for the line)."""
        if self.tagged(node):
            return []
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if isinstance(node, yaml.SequenceNode) and not items:
            self.problem(node, f"{what} is an empty list")
        result = []
        for item in items:
            name = self.text(item, f"an entry of {what}")
            if name is not None:
                result.append((name, item))
        return result

    def items(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if self.tagged(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"{what} must be a list ('- ' lines), found {_kind(node)}")
            return []
        return list(node.value)
