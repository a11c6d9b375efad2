"""Safe YAML reading that keeps line numbers: text -> a tree of YAML nodes.

Takes the text of a rules file; gives the composed node tree (every node carries its
line) or raises :class:`RulesError`. Only the composer runs: no Python object is
ever constructed from the file, so YAML tags cannot execute anything and an alias
"billion laughs" bomb stays a small shared graph (readers descend only into the
shapes the schema expects, and merge keys are expanded under a budget).
Oversized or over-nested input is refused with a clear message instead of a hang
or a RecursionError.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from monitor.errors import UserError
from monitor.textsafe import printable

MAX_BYTES = 256 * 1024
MAX_PROBLEMS = 50
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_MERGED = 10_000


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based; 0 when the problem concerns the whole file
    message: str
    hint: str = ""

    def format(self, path: str) -> str:
        """One line: text quoted from the file may hold newlines or control characters."""
        where = f"{path}:{self.line}" if self.line else path
        return printable(f"{where}: {self.message}" + (f" ({self.hint})" if self.hint else ""))


class RulesError(UserError):
    """A rules file is unreadable or invalid; lists every problem found, one per line."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = sorted(problems, key=lambda p: p.line)
        lines = [p.format(path) for p in self.problems[:MAX_PROBLEMS]]
        if len(self.problems) > MAX_PROBLEMS:
            lines.append(f"{path}: ... and {len(self.problems) - MAX_PROBLEMS} more problems")
        super().__init__("\n".join(lines))


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def compose(data: bytes, path: str) -> yaml.Node:
    """Parse ``data`` into a node tree, or raise :class:`RulesError`."""
    if len(data) > MAX_BYTES:
        raise RulesError(path, [Problem(0, f"file is {len(data)} bytes, larger than the {MAX_BYTES}-byte limit",
                                        "a rules file is a few kilobytes; is this the right file?")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RulesError(path, [Problem(line, "not UTF-8 text", "save the file as UTF-8")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise RulesError(path, [Problem(line, f"YAML syntax error: {problem}",
                                        "check indentation, colons and quotes")]) from None
    except yaml.YAMLError as exc:  # reader errors (control characters) carry a position, not a mark
        position = getattr(exc, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else 0
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise RulesError(path, [Problem(line, f"unreadable YAML: {reason}", "remove control characters")]) from None
    except RecursionError:
        raise RulesError(path, [Problem(0, "YAML nested too deeply", "a rules file needs only a few levels")]) from None
    if node is None:
        raise RulesError(path, [Problem(0, "file is empty", "see rules.yaml in the repository for an example")])
    return node


def mapping_items(node: yaml.MappingNode, problems: list[Problem]) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """The key/value pairs of a mapping with YAML merge keys (``<<: *defaults``) expanded;
    explicit keys win over merged ones, as in YAML."""
    own = [(k, v) for k, v in node.value if k.tag != MERGE_TAG]
    seen = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    yield from own
    budget = [MAX_MERGED]
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                yield from _merged(source, seen, {id(node)}, budget, problems)


def _merged(node: yaml.Node, seen: set[str], visiting: set[int], budget: list[int],
            problems: list[Problem]) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(line_of(node), "'<<' must merge a mapping", "use '<<: *anchor' of a mapping"))
        return
    if id(node) in visiting:
        problems.append(Problem(line_of(node), "a merge key refers to itself", "remove the recursive alias"))
        return
    for key, value in node.value:
        budget[0] -= 1
        if budget[0] < 0:
            if budget[0] == -1:
                problems.append(Problem(line_of(node), "too many merged keys", "simplify the anchors and aliases"))
            return
        if key.tag == MERGE_TAG:
            for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                yield from _merged(source, seen, visiting | {id(node)}, budget, problems)
        elif isinstance(key, yaml.ScalarNode) and key.value not in seen:
            seen.add(key.value)
            yield key, value
