"""Rules file loader: rules.yaml -> a validated :class:`RuleSet`, or every problem at once.

Takes the file (path or bytes), the labels of the model actually loaded and its
calibrated thresholds; gives a :class:`~monitor.rules.schema.RuleSet` or raises
:class:`~monitor.rules.yamlsafe.RulesError` whose lines read ``file:line: problem (hint)``.
Checked: unknown keys, wrong types, impossible values, unknown labels/groups/rules,
duplicate names, bad message templates and cycles among compound rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.alerts import Severity
from monitor.rules.message import template_problem
from monitor.rules.reader import Reader, did_you_mean
from monitor.rules.schema import (
    DEFAULT_MESSAGE,
    DEFAULT_MIN_LEVEL_DBFS,
    DEFAULT_THRESHOLD,
    MESSAGE_FIELDS,
    MODES,
    CompoundRule,
    Persistence,
    Rule,
    RuleSet,
    ScheduleEntry,
    SimpleRule,
    TimeWindow,
    Timing,
)
from monitor.rules.units import parse_duration, parse_n_of_m, parse_time_of_day, parse_time_range, parse_weekday
from monitor.rules.yamlsafe import MAX_BYTES, Problem, RulesError, compose, line_of
from monitor.smallfile import FileRefused, read_small_file

TOP_KEYS = ("version", "timezone", "min_level_dbfs", "mode", "schedule", "groups", "defaults", "rules")
DEFAULT_KEYS = ("persistence", "for", "cooldown", "clear_after", "severity", "message", "min_level_dbfs")
COMMON_KEYS = ("name", "description", "modes", "hours", "cooldown", "severity", "message", "alert")
SIMPLE_KEYS = COMMON_KEYS + ("sound", "threshold", "persistence", "for", "clear_after", "min_level_dbfs")
COMPOUND_KEYS = COMMON_KEYS + ("sequence", "all_of", "within")
SCHEDULE_KEYS = ("mode", "days", "from", "to")
MAX_RULES = 500
MAX_WINDOWS = 600
MAX_NAME = 100  # characters; names become MQTT topic levels and entity ids
DEFAULTS = {"cooldown": 60.0, "clear_after": 10.0}


def load_rules(path: Path, labels: Sequence[str], thresholds: Mapping[str, float] | None = None) -> RuleSet:
    """Read and validate a rules file (see :func:`parse_rules`)."""
    try:
        data = read_small_file(path, MAX_BYTES)
    except FileRefused as exc:
        if exc.missing:
            raise RulesError(str(path), [Problem(0, "rules file not found", "pass --rules FILE or create rules.yaml")]) from None
        raise RulesError(str(path), [Problem(0, f"the rules file {exc}",
                                             "a rules file is a small YAML text file")]) from None
    return parse_rules(data, str(path), labels, thresholds)


def parse_rules(data: bytes | str, path: str, labels: Sequence[str],
                thresholds: Mapping[str, float] | None = None) -> RuleSet:
    """Validate rules text against the model's ``labels``; ``thresholds`` are the model's calibrated
    per-label thresholds, used where a rule gives none (else 0.5)."""
    root = compose(data.encode("utf-8") if isinstance(data, str) else data, path)
    builder = _Builder(tuple(labels), dict(thresholds or {}))
    ruleset = builder.build(root, path)
    if builder.problems or ruleset is None:
        raise RulesError(path, builder.problems)
    return ruleset


class _Builder(Reader):
    def __init__(self, labels: tuple[str, ...], thresholds: dict[str, float]) -> None:
        super().__init__()
        self.labels = labels
        self.thresholds = thresholds
        self.groups: dict[str, tuple[str, ...]] = {}
        self.defaults: dict[str, yaml.Node] = {}
        self.min_level = DEFAULT_MIN_LEVEL_DBFS
        self.part_nodes: dict[str, dict[str, yaml.Node]] = {}

    def build(self, root: yaml.Node, path: str) -> RuleSet | None:
        top = self.mapping(root, "the rules file", TOP_KEYS, free_prefix="x-")
        if "version" in top and self.text(top["version"], "'version'") not in (None, "1"):
            self.problem(top["version"], "unsupported 'version'", "this program reads version: 1")
        timezone = self._timezone(top.get("timezone"))
        if "min_level_dbfs" in top:
            level = self.number(top["min_level_dbfs"], "'min_level_dbfs'", -200, 0, "-70")
            self.min_level = self.min_level if level is None else level
        mode = self._mode(top["mode"], "'mode'") if "mode" in top else "home"
        schedule = self._schedule(top["schedule"]) if "schedule" in top else ()
        if "groups" in top:
            self._groups(top["groups"])
        if "defaults" in top:
            self.defaults = self.mapping(top["defaults"], "'defaults'", DEFAULT_KEYS)
        if "rules" not in top:
            if isinstance(root, yaml.MappingNode):
                self.problem(root, "no 'rules:' section", "add a list of rules, see the README")
            return None
        rules = self._rules(top["rules"])
        return RuleSet(rules=rules, default_mode=mode or "home", schedule=schedule, timezone=timezone, path=path,
                       min_level_dbfs=self.min_level)  # fmt: skip

    # -- top level ---------------------------------------------------------
    def _timezone(self, node: yaml.Node | None) -> str | None:
        if node is None:
            return None
        name = self.text(node, "'timezone'")
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(node, f"unknown time zone '{name[:40]}'", "an IANA name such as Europe/Berlin")
            return None
        return name

    def _mode(self, node: yaml.Node, what: str) -> str | None:
        name = self.text(node, what)
        if name is not None and name not in MODES:
            self.problem(node, f"{what}: unknown mode '{name[:40]}'", "modes are " + ", ".join(MODES))
            return None
        return name

    def _schedule(self, node: yaml.Node) -> tuple[ScheduleEntry, ...]:
        entries = []
        for item in self.items(node, "'schedule'"):
            keys = self.mapping(item, "a schedule entry", SCHEDULE_KEYS)
            missing = [k for k in ("mode", "from", "to") if k not in keys]
            if missing and keys:
                self.problem(item, f"schedule entry lacks {', '.join(missing)}",
                             "e.g. {mode: night, days: [mon, tue], from: '23:00', to: '06:30'}")
            mode = self._mode(keys["mode"], "schedule 'mode'") if "mode" in keys else None
            start = self.parsed(keys["from"], "'from'", parse_time_of_day, "'23:00'") if "from" in keys else None
            end = self.parsed(keys["to"], "'to'", parse_time_of_day, "'06:30'") if "to" in keys else None
            days = self._days(keys["days"]) if "days" in keys else frozenset(range(7))
            if start is not None and end is not None and start == end:
                self.problem(item, "schedule entry starts and ends at the same time", "give a non-empty range")
            elif None not in (mode, start, end, days):
                entries.append(ScheduleEntry(mode, TimeWindow(start % 1440, end % 1440 or 1440, days), line_of(item)))  # type: ignore[arg-type]
        return tuple(entries)

    def _days(self, node: yaml.Node) -> frozenset[int] | None:
        days = set()
        for name, item in self.names(node, "'days'"):
            try:
                days.add(parse_weekday(name))
            except ValueError:
                self.problem(item, f"unknown weekday '{name[:40]}'", "use mon, tue, wed, thu, fri, sat, sun")
                return None
        return frozenset(days) or None

    def _groups(self, node: yaml.Node) -> None:
        for name, value in self.mapping(node, "'groups'", ()).items():
            if name in self.labels:
                self.problem(value, f"group '{name}' has the name of a model label", "rename the group")
                continue
            members = []
            for label, item in self.names(value, f"group '{name}'"):
                if label in self.groups:
                    members.extend(self.groups[label])
                elif self._known_label(label, item):
                    members.append(label)
            if members:
                self.groups[name] = tuple(dict.fromkeys(members))

    def _known_label(self, label: str, node: yaml.Node) -> bool:
        if label in self.labels:
            return True
        self.problem(node, f"unknown sound '{label[:40]}': the model has no such label and no group has that name",
                     did_you_mean(label, self.labels + tuple(self.groups), "labels and groups"))
        return False

    # -- rules ---------------------------------------------------------------
    def _rules(self, node: yaml.Node) -> tuple[Rule, ...]:
        items = self.items(node, "'rules'")
        if len(items) > MAX_RULES:
            self.problem(node, f"{len(items)} rules, more than the limit of {MAX_RULES}")
            return ()
        names: dict[str, int] = {}
        topics: dict[str, tuple[str, int]] = {}
        rules: list[Rule] = []
        for item in items:
            compound = isinstance(item, yaml.MappingNode) and any(
                isinstance(k, yaml.ScalarNode) and k.value in ("sequence", "all_of") for k, _ in item.value)
            keys = self.mapping(item, "a rule", COMPOUND_KEYS if compound else SIMPLE_KEYS)
            if not keys:
                continue
            name = self._name(keys["name"]) if "name" in keys else None
            if "name" not in keys:
                self.problem(item, "rule has no 'name'", "give every rule a unique name")
            elif name is not None and name in names:
                self.problem(keys["name"], f"duplicate rule name '{name}'", f"first used on line {names[name]}")
                name = None
            if name is not None:
                names[name] = line_of(keys["name"])
                self._topic_level(name, keys["name"], topics)
            rule = self._compound(name, keys, item) if compound else self._simple(name, keys, item)
            if rule is not None:
                rules.append(rule)
        return self._ordered(rules)

    def _name(self, node: yaml.Node) -> str | None:
        """A rule name: it becomes an MQTT topic level, a Home Assistant entity and a log field."""
        name = self.text(node, "rule 'name'")
        if name is None:
            return None
        if len(name) > MAX_NAME:
            self.problem(node, f"rule name is {len(name)} characters long, more than {MAX_NAME}", "use a short name")
            return None
        odd = next((c for c in name if not c.isprintable()), None)
        if odd is not None:
            self.problem(node, f"rule name contains the control character {odd!r}", "use letters, digits, '_' and '-'")
            return None
        return name

    def _topic_level(self, name: str, node: yaml.Node, seen: dict[str, tuple[str, int]]) -> None:
        """Report a name whose MQTT topic level another rule already has (the sink could not publish both)."""
        from monitor.mqtt.topics import rule_id  # lazily: paho loads with the mqtt package, and only the daemon needs it

        level = rule_id(name)
        other = seen.setdefault(level, (name, line_of(node)))
        if other[0] != name:
            self.problem(node, f"rules '{other[0]}' (line {other[1]}) and '{name}' map to the same MQTT topic "
                               f".../alert/{level}", "rename one: topics keep only letters, digits, '_' and '-'")

    def _timing(self, keys: dict[str, yaml.Node]) -> Timing | None:
        modes = frozenset(MODES)
        if "modes" in keys:
            modes = frozenset(m for m in (self._mode(n, "'modes'") for _, n in self.names(keys["modes"], "'modes'")) if m)
        hours: list[TimeWindow] = []
        if "hours" in keys:
            for _, item in self.names(keys["hours"], "'hours'"):
                span = self.parsed(item, "'hours'", parse_time_range, "'22:00-06:00'")
                if span is not None:
                    hours.append(TimeWindow(span[0] % 1440, span[1] % 1440 or 1440))
        cooldown = self._duration(keys, "cooldown")
        severity = self._severity(keys.get("severity") or self.defaults.get("severity"), modes)
        message = self._message(keys.get("message") or self.defaults.get("message"))
        alert = self.boolean(keys["alert"], "'alert'") if "alert" in keys else True
        if None in (cooldown, severity, message, alert) or not modes:
            return None
        return Timing(modes, tuple(hours), cooldown, severity, message, alert)  # type: ignore[arg-type]

    def _duration(self, keys: dict[str, yaml.Node], key: str) -> float | None:
        node = keys.get(key) or self.defaults.get(key)
        if node is None:
            return DEFAULTS[key]
        return self.parsed(node, f"'{key}'", parse_duration, "30s, 2m or 1m30s")

    def _severity(self, node: yaml.Node | None, modes: frozenset[str]) -> dict[str, Severity] | None:
        levels = tuple(s.value for s in Severity)
        if node is None:
            return {m: Severity.WARNING for m in MODES}
        if isinstance(node, yaml.MappingNode):
            per_mode = {}
            for mode, value in self.mapping(node, "'severity'", MODES).items():
                level = self.text(value, f"severity for {mode}")
                if level is not None and level not in levels:
                    self.problem(value, f"unknown severity '{level[:40]}'", "use " + ", ".join(levels))
                elif level is not None:
                    per_mode[mode] = Severity(level)
            missing = sorted(modes - set(per_mode))
            if missing:
                self.problem(node, f"'severity' does not say what to use in mode {', '.join(missing)}",
                             "give a severity for every mode the rule is active in")
                return None
            return per_mode
        level = self.text(node, "'severity'")
        if level is None:
            return None
        if level not in levels:
            self.problem(node, f"unknown severity '{level[:40]}'", "use " + ", ".join(levels) + " or a mapping per mode")
            return None
        return {m: Severity(level) for m in MODES}

    def _message(self, node: yaml.Node | None) -> str | None:
        if node is None:
            return DEFAULT_MESSAGE
        template = self.scalar(node, "'message'")
        if template is None:
            return None
        problem = template_problem(template)
        if problem is not None:
            self.problem(node, problem, "use {" + "}, {".join(MESSAGE_FIELDS) + "}, e.g. {score:.2f}")
            return None
        return template

    def _simple(self, name: str | None, keys: dict[str, yaml.Node], item: yaml.Node) -> SimpleRule | None:
        labels: list[str] = []
        if "sound" not in keys:
            self.problem(item, "rule has no 'sound'", "name a model label or a group, or use 'sequence:' for a compound rule")
        else:
            for word, node in self.names(keys["sound"], "'sound'"):
                if word in self.groups:
                    labels.extend(self.groups[word])
                elif self._known_label(word, node):
                    labels.append(word)
        threshold = None
        if "threshold" in keys:
            threshold = self.number(keys["threshold"], "'threshold'", 0.0, 1.0, "0.6")
            if threshold is None:
                name = None  # reported; check the rest of the rule all the same
        persistence = self._persistence(keys)
        clear_after = self._duration(keys, "clear_after")
        level_node = keys.get("min_level_dbfs") or self.defaults.get("min_level_dbfs")
        level = self.number(level_node, "'min_level_dbfs'", -200, 0, "-60") if level_node else self.min_level
        timing = self._timing(keys)
        if name is None or not labels or None in (persistence, clear_after, level, timing):
            return None
        labels = list(dict.fromkeys(labels))
        thresholds = {lab: threshold if threshold is not None else self.thresholds.get(lab, DEFAULT_THRESHOLD)
                      for lab in labels}
        return SimpleRule(name, tuple(labels), thresholds, persistence, clear_after, level, timing,  # type: ignore[arg-type]
                          line=line_of(item))

    def _persistence(self, keys: dict[str, yaml.Node]) -> Persistence | None:
        own = [k for k in ("persistence", "for") if k in keys]
        if len(own) == 2:
            self.problem(keys["for"], "a rule has both 'persistence' and 'for'", "keep one of them")
            return None
        source = keys if own else self.defaults
        if "for" in source:
            duration = self.parsed(source["for"], "'for'", parse_duration, "3s")
            return Persistence(duration=duration) if duration is not None else None
        if "persistence" in source:
            pair = self.parsed(source["persistence"], "'persistence'", parse_n_of_m, "'2 of 3'")
            if pair is None:
                return None
            if pair[1] > MAX_WINDOWS:
                self.problem(source["persistence"], f"'persistence' looks at more than {MAX_WINDOWS} windows",
                             "use 'for:' for long sounds")
                return None
            return Persistence(*pair)
        return Persistence()

    def _compound(self, name: str | None, keys: dict[str, yaml.Node], item: yaml.Node) -> CompoundRule | None:
        both = [k for k in ("sequence", "all_of") if k in keys]
        if len(both) == 2:
            self.problem(keys["all_of"], "a rule has both 'sequence' and 'all_of'", "keep one of them")
            return None
        ordered = both[0] == "sequence"
        parts = self.names(keys[both[0]], f"'{both[0]}'")
        seen: set[str] = set()
        for part, node in parts:
            if part in seen:
                self.problem(node, f"'{both[0]}' lists rule '{part}' twice", "each part may appear once")
                name = None
            seen.add(part)
        if len(parts) < 2:
            self.problem(keys[both[0]], f"'{both[0]}' needs at least two rules", "e.g. [glass_break, human_while_away]")
        if "within" not in keys:
            self.problem(item, "compound rule has no 'within'", "e.g. within: 60s")
            within = None
        else:
            within = self.parsed(keys["within"], "'within'", parse_duration, "60s")
            if within == 0:
                self.problem(keys["within"], "'within' must be longer than 0 s")
                within = None
        timing = self._timing(keys)
        if name is None or len(parts) < 2 or within is None or timing is None:
            return None
        rule = CompoundRule(name, tuple(p for p, _ in parts), ordered, within, timing, line=line_of(item))
        self.part_nodes[name] = dict(parts)
        return rule

    def _ordered(self, rules: list[Rule]) -> tuple[Rule, ...]:
        """Rules with every compound after its parts; unknown parts and cycles reported."""
        by_name = {r.name: r for r in rules}
        for rule in rules:
            if isinstance(rule, CompoundRule):
                for part in rule.parts:
                    if part not in by_name:
                        self.problem(self.part_nodes[rule.name][part], f"rule '{rule.name}' uses unknown rule '{part}'",
                                     did_you_mean(part, by_name, "rules"))
        order: list[Rule] = []
        state: dict[str, str] = {}

        def visit(rule: Rule, path: list[str]) -> None:
            if state.get(rule.name) == "done":
                return
            if state.get(rule.name) == "visiting":
                cycle = path[path.index(rule.name):] + [rule.name]
                self.problem(self.part_nodes[rule.name][cycle[1]], "compound rules form a cycle: " + " -> ".join(cycle),
                             "a compound rule cannot depend on itself")
                return
            state[rule.name] = "visiting"
            if isinstance(rule, CompoundRule):
                for part in rule.parts:
                    if part in by_name:
                        visit(by_name[part], path + [rule.name])
            state[rule.name] = "done"
            order.append(rule)

        for rule in rules:
            visit(rule, [])
        return tuple(order)
