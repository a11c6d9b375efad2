"""Loading rules.yaml: the shipped file, and every kind of mistake reported with file:line and a hint."""

from __future__ import annotations

import re
import resource
from pathlib import Path

import pytest

from monitor.alerts import Severity
from monitor.rules import RulesError, load_rules, parse_rules
from monitor.rules.schema import CompoundRule, SimpleRule

ROOT = Path(__file__).resolve().parents[1]
MODEL_LABELS = ("glass_breaking", "speech", "scream_or_shout", "footsteps", "door_knock", "door", "dog_bark",
                "baby_cry", "smoke_alarm", "siren", "gunshot", "cough_sneeze_laugh", "background", "other")
LABELS = ("glass_breaking", "speech", "dog_bark", "baby_cry")


def problems(text: str, labels: tuple[str, ...] = LABELS) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "my.yaml", labels)
    return str(caught.value).splitlines()


def test_the_shipped_rules_load_against_the_models_labels():
    rules = load_rules(ROOT / "rules.yaml", MODEL_LABELS, {"speech": 0.7})
    names = [r.name for r in rules.rules]
    assert names == ["glass_break", "human_while_away", "footsteps_while_away", "scream", "smoke_alarm",
                     "baby_cry_night", "dog_bark_away", "intruder"]
    glass, human, scream = (rules.get(n) for n in ("glass_break", "human_while_away", "scream"))
    footsteps = rules.get("footsteps_while_away")
    assert isinstance(glass, SimpleRule) and glass.timing.modes == {"home", "away", "night"}
    assert set(glass.timing.severity.values()) == {Severity.CRITICAL}
    assert isinstance(human, SimpleRule) and human.timing.modes == {"away"}
    assert human.thresholds["speech"] == 0.7 and "footsteps" not in human.thresholds  # too many false alarms
    assert isinstance(footsteps, SimpleRule) and set(footsteps.timing.severity.values()) == {Severity.WARNING}
    assert isinstance(scream, SimpleRule)
    assert (scream.timing.severity["home"], scream.timing.severity["away"]) == (Severity.WARNING, Severity.CRITICAL)
    assert isinstance(rules.get("intruder"), CompoundRule)
    assert rules.min_gate_dbfs == -65.0


def test_the_shipped_rules_refuse_a_model_without_their_labels():
    with pytest.raises(RulesError, match=r"rules.yaml:\d+: unknown sound 'smoke_alarm'"):
        load_rules(ROOT / "rules.yaml", tuple(l for l in MODEL_LABELS if l != "smoke_alarm"))


def test_every_problem_is_reported_at_once_with_its_line_and_a_hint():
    lines = problems("""\
rules:
  - name: a
    sound: glas_breaking
    threshold: 1.5
  - name: a
    sound: speech
    persistance: 2 of 3
  - name: c
    sound: dog_bark
    persistence: 3 of 2
    severity: urgent
""")
    assert lines == [
        "my.yaml:3: unknown sound 'glas_breaking': the model has no such label and no group has that name "
        "(did you mean 'glass_breaking'?)",
        "my.yaml:4: 'threshold' '1.5' is invalid: must be between 0 and 1 (e.g. 0.6)",
        "my.yaml:5: duplicate rule name 'a' (first used on line 2)",
        "my.yaml:7: unknown key 'persistance' in a rule (did you mean 'persistence'?)",
        "my.yaml:10: 'persistence' '3 of 2' is invalid: needs 1 <= N <= M (e.g. '2 of 3')",
        "my.yaml:11: unknown severity 'urgent' (use info, warning, critical or a mapping per mode)",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("rules: {name: a}", r"my.yaml:1: 'rules' must be a list"),
    ("rules:\n  - name: a\n    sound: [speech, 3]\n    cooldown: soon", r"my.yaml:3: unknown sound '3'.*\nmy.yaml:4: 'cooldown' 'soon' is invalid: not a duration \(e.g. 30s, 2m or 1m30s\)"),
    ("rules:\n  - name: a\n    sound: speech\n    modes: [holiday]", r"my.yaml:4: 'modes': unknown mode 'holiday' \(modes are home, away, night\)"),
    ("rules:\n  - name: a\n    sound: speech\n    severity: {home: info}", r"my.yaml:4: 'severity' does not say what to use in mode away, night"),
    ("rules:\n  - name: a\n    sound: speech\n    message: '{who} spoke'", r"my.yaml:4: message template uses unknown field '\{who\}'"),
    ("rules:\n  - name: a\n    sound: speech\n    message: '{score:.2q}'", r"my.yaml:4: message template is not valid"),
    ("rules:\n  - name: a\n    sound: speech\n    for: 3s\n    persistence: 2 of 3", r"my.yaml:4: a rule has both 'persistence' and 'for'"),
    ("rules:\n  - name: a\n    sound: speech\n    hours: '22:00-22:00'", r"my.yaml:4: 'hours' '22:00-22:00' is invalid: start and end are equal"),
    ("rules:\n  - sound: speech", r"my.yaml:2: rule has no 'name'"),
    ("rules:\n  - name: a", r"my.yaml:2: rule has no 'sound'"),
    ("timezone: Mars/Olympus\nrules: []", r"my.yaml:1: unknown time zone 'Mars/Olympus'"),
    ("schedule:\n  - {mode: night, from: '25:00', to: '06:00', days: [mon, funday]}\nrules: []",
     r"my.yaml:2: 'from' '25:00' is invalid.*\nmy.yaml:2: unknown weekday 'funday'"),
    ("groups:\n  speech: [dog_bark]\nrules: []", r"my.yaml:2: group 'speech' has the name of a model label"),
    ("rules:\n  - name: a\n    sound: speech\n  - name: b\n    sequence: [a, nope]\n    within: 10s", r"my.yaml:5: rule 'b' uses unknown rule 'nope'"),
    ("rules:\n  - name: a\n    sound: speech\n  - name: b\n    all_of: [a]\n    within: 0s", r"my.yaml:5: 'all_of' needs at least two rules.*\nmy.yaml:6: 'within' must be longer than 0 s"),
    ("rules:\n  - name: a\n    sound: !!python/object:os.system ls", r"my.yaml:3: YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
    ("rules:\n  - name: a\n    sound: speech\n  - name: b\n    sequence: [a, a]\n    within: 10s", r"my.yaml:5: 'sequence' lists rule 'a' twice"),
    ("rules:\n  - name: a\n    sound: speech\n    threshold: high\n    cooldown: -3s", r"my.yaml:4: 'threshold' 'high' is invalid: not a number.*\nmy.yaml:5: 'cooldown' '-3s' is invalid"),
    ("version: 2\nrules: []", r"my.yaml:1: unsupported 'version'"),
    ("rules:\n  - name: a\n    sound: speech\n    threshold:", r"my.yaml:4: 'threshold' has no value"),
    ("rules:\n- name: a\n  sound: speech\n   cooldown: 3s", r"my.yaml:4: YAML syntax error"),
    ("", r"^my.yaml: file is empty"),
    ("just words", r"^my.yaml:1: the rules file must be a mapping"),
    ("{}", r"^my.yaml:1: no 'rules:' section"),
    ("x-note: hello", r"^my.yaml:1: no 'rules:' section"),
])
def test_mistakes_are_explained(text: str, expected: str):
    assert re.search(expected, "\n".join(problems(text)))


@pytest.mark.parametrize(("template", "expected"), [
    ("{rule:>999999999}", "message template format '>999999999' is too wide: widths up to 100"),
    ("{score:.999999999f}", "message template format '.999999999f' is too wide"),
    ("{rule:>9999999999}", "message template format '>9999999999' is too wide"),
    ("{score:{rule}}", "message template is not valid: unknown format '{rule}'"),
    ("x" * 501, "message template is 501 characters long, more than 500"),
])
def test_a_template_that_would_cost_memory_is_refused_before_it_is_rendered(template: str, expected: str):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (line,) = problems(f"rules:\n  - name: a\n    sound: speech\n    message: '{template}'")
    assert line.startswith("my.yaml:4: " + expected)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # kB: nothing big was built


def test_formats_within_the_bounds_are_accepted():
    template = "{rule:^20} {score:>50.3f} {onset:+08.2f} {labels!r:.5} {severity:*<10}"
    (rule,) = parse_rules(f"rules:\n  - {{name: a, sound: speech, message: '{template}'}}", "t.yaml", LABELS).rules
    assert rule.timing.message == template


@pytest.mark.parametrize(("name", "expected"), [
    ("a" * 101, "my.yaml:2: rule name is 101 characters long, more than 100 (use a short name)"),
    ("\\e[31mred", "my.yaml:2: rule name contains the control character '\\x1b'"),
    ("nul\\0", "my.yaml:2: rule name contains the control character '\\x00'"),
])
def test_rule_names_are_short_printable_words(name: str, expected: str):
    (line,) = problems(f'rules:\n  - name: "{name}"\n    sound: speech')
    assert line.startswith(expected)


def test_names_that_share_an_mqtt_topic_are_refused():
    lines = problems("rules:\n  - {name: a b, sound: speech}\n  - {name: a/b, sound: speech}\n  - {name: a_b!, sound: speech}")
    assert lines == [
        "my.yaml:3: rules 'a b' (line 2) and 'a/b' map to the same MQTT topic .../alert/a_b "
        "(rename one: topics keep only letters, digits, '_' and '-')",
        "my.yaml:4: rules 'a b' (line 2) and 'a_b!' map to the same MQTT topic .../alert/a_b "
        "(rename one: topics keep only letters, digits, '_' and '-')",
    ]


def test_compound_rules_may_not_form_a_cycle():
    lines = problems("""\
rules:
  - {name: a, sound: speech}
  - {name: x, sequence: [a, y], within: 10s}
  - {name: y, all_of: [x, a], within: 10s}
""")
    assert lines == ["my.yaml:3: compound rules form a cycle: x -> y -> x (a compound rule cannot depend on itself)"]


def test_times_are_read_as_written_not_as_yaml_numbers():
    # Unquoted 23:00 is the integer 1380 in YAML 1.1; the loader reads the text.
    rules = parse_rules("schedule:\n  - {mode: night, from: 23:00, to: 06:30}\nrules: []", "t.yaml", LABELS)
    window = rules.schedule[0].window
    assert (window.start, window.end) == (23 * 60, 6 * 60 + 30)


def test_anchors_under_x_keys_and_merge_keys_share_settings():
    rules = parse_rules("""\
x-pets: &pets {modes: [away], cooldown: 5m, severity: warning}
rules:
  - {<<: *pets, name: dog, sound: dog_bark}
  - {<<: *pets, name: baby, sound: baby_cry, severity: info}
""", "t.yaml", LABELS)
    dog, baby = rules.rules
    assert dog.timing.modes == {"away"} and dog.timing.cooldown == 300
    assert baby.timing.severity["away"] is Severity.INFO


def test_defaults_apply_to_rules_that_do_not_say():
    rules = parse_rules("""\
defaults: {cooldown: 90s, clear_after: 5s, persistence: 2 of 4, severity: info, message: "{label}!"}
rules:
  - {name: a, sound: speech}
  - {name: b, sound: speech, for: 2s, cooldown: 1m}
""", "t.yaml", LABELS)
    a, b = rules.rules
    assert (a.timing.cooldown, a.clear_after, a.persistence.describe(), a.timing.message) == (90, 5, "2 of 4", "{label}!")
    assert (b.timing.cooldown, b.persistence.describe()) == (60, "for 2s")


def test_a_missing_file_is_reported_plainly(tmp_path: Path):
    with pytest.raises(RulesError, match=r"nope.yaml: rules file not found \(pass --rules FILE"):
        load_rules(tmp_path / "nope.yaml", LABELS)
