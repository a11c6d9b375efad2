"""YAML with line numbers for validation: text -> node tree, and typed reads that collect problems.

Takes the bytes of a config file; gives the composed node tree (only the composer
runs, so no YAML tag can build a Python object) and a :class:`Reader` whose typed
accessors return a value or None, recording a :class:`Problem` (line, key, message,
hint) for everything wrong, so the user sees every problem at once.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based; 0 = the whole file
    key: str  # dotted path, e.g. "sources[1].file"; "" = the whole file
    message: str
    hint: str = ""

    def format(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}" + (f" ({self.hint})" if self.hint else "")


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def compose(data: bytes) -> tuple[yaml.Node | None, list[Problem]]:
    """The node tree, or None with the problem that stopped parsing."""
    if len(data) > MAX_BYTES:
        return None, [Problem(0, "", f"file is {len(data)} bytes, more than {MAX_BYTES}", "is this the config file?")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(data[: exc.start].count(b"\n") + 1, "", "not UTF-8 text", "save the file as UTF-8")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return None, [Problem(mark.line + 1 if mark else 0, "", f"YAML syntax error: {problem}",
                              "check indentation, colons and quotes")]  # fmt: skip
    except yaml.YAMLError as exc:
        return None, [Problem(0, "", f"unreadable YAML: {str(exc).splitlines()[0]}")]
    except RecursionError:
        return None, [Problem(0, "", "YAML nested too deeply")]
    if node is None:
        return None, [Problem(0, "", "file is empty", "'sound-monitor config --example' prints a starting point")]
    return node, []


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


@dataclass
class Reader:
    problems: list[Problem] = field(default_factory=list)

    def problem(self, node: yaml.Node | None, key: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(line_of(node) if node is not None else 0, key, message, hint))

    def mapping(self, node: yaml.Node, key: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node] | None:
        """A mapping's entries by key; unknown and duplicate keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, key, "expected a mapping of 'key: value' lines")
            return None
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            name = k.value if isinstance(k, yaml.ScalarNode) else None
            inner = f"{key}.{name}" if key else str(name)
            if name is None or name not in allowed:
                shown = str(name)[:40] if name is not None else "(not a name)"
                hint = did_you_mean(shown, allowed) or "known keys: " + ", ".join(allowed)
                self.problem(k, f"{key}.{shown}" if key else shown, "unknown key", hint)
            elif name in out:
                self.problem(k, inner, "given twice", f"first on line {line_of(out[name])}")
            else:
                out[name] = v
        return out

    def items(self, node: yaml.Node, key: str) -> list[yaml.Node]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        self.problem(node, key, "expected a list ('- item' lines)")
        return []

    def scalar(self, node: yaml.Node, key: str) -> str | None:
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        self.problem(node, key, "expected a single value, not a list or mapping")
        return None

    def is_null(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"

    def text(self, node: yaml.Node, key: str, allow_empty: bool = False) -> str | None:
        value = self.scalar(node, key)
        if value is None:
            return None
        if self.is_null(node) or (not value.strip() and not allow_empty):
            self.problem(node, key, "is empty")
            return None
        return value

    def choice(self, node: yaml.Node, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(node, key)
        if value is not None and value not in choices:
            self.problem(node, key, f"'{value[:40]}' is not one of {', '.join(choices)}", did_you_mean(value, choices))
            return None
        return value

    def boolean(self, node: yaml.Node, key: str) -> bool | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
            return node.value.lower() in ("true", "yes", "on")
        self.problem(node, key, f"expected true or false, got {_shown(node)}")
        return None

    def number(self, node: yaml.Node, key: str, low: float, high: float, integer: bool = False) -> float | None:
        value = self.scalar(node, key)
        if value is None:
            return None
        tags = ("tag:yaml.org,2002:int",) if integer else ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        what = "a whole number" if integer else "a number"
        if node.tag not in tags:
            self.problem(node, key, f"expected {what}, got {_shown(node)}")
            return None
        number = _parse_number(value, integer)
        if number is None:
            self.problem(node, key, f"expected {what}, got {_shown(node)}", "write it in plain decimal digits")
            return None
        if not math.isfinite(number):
            self.problem(node, key, f"{value[:40]} is not a finite number", f"give a number in {low:g}..{high:g}")
            return None
        if not low <= number <= high:
            self.problem(node, key, f"{value} is outside {low:g}..{high:g}")
            return None
        return number

    def names(self, node: yaml.Node, key: str) -> list[str] | None:
        """A name or a list of names."""
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = [self.text(n, key) for n in nodes]
        return None if None in out else [n for n in out if n is not None]


def _parse_number(text: str, integer: bool) -> float | None:
    """A YAML int or float scalar's value; None for what Python cannot read as such:
    YAML 1.1 octal (``017``) and base-60 (``1:30``) forms, or an integer too long for a float."""
    clean = text.replace("_", "")
    special = clean.lower().lstrip("+-")
    if special in (".inf", ".nan"):  # YAML spellings that Python's float() does not know
        return math.nan if special == ".nan" else math.inf
    try:
        return float(int(clean, 0)) if integer else float(clean)
    except (ValueError, OverflowError):
        return None


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return f"'{node.value[:40]}'"
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
