"""Compound rules: parts firing in order (sequence) or in any order (all_of) within a time."""

from __future__ import annotations

from monitor.alerts import Alert, AlertCleared
from rules_support import engine, pred

GLASS = {"glass_breaking": 0.9}
SPEECH = {"speech": 0.8}
BARK = {"dog_bark": 0.7}


def rules(combine: str = "sequence: [glass, voices]", within: str = "60s", modes: str = "[home, away, night]") -> str:
    return f"""
    rules:
      - {{name: glass, sound: glass_breaking, clear_after: 10s}}
      - {{name: voices, sound: speech, alert: false, clear_after: 10s}}
      - {{name: bark, sound: dog_bark, alert: false}}
      - name: intruder
        {combine}
        within: {within}
        modes: {modes}
        severity: critical
    """


def feed(eng, windows: list[tuple[float, dict[str, float]]]) -> list[Alert | AlertCleared]:
    return [event for start, scores in windows for event in eng.process(pred(start, scores))]


def fired(events: list[Alert | AlertCleared], rule: str = "intruder") -> list[Alert]:
    return [e for e in events if isinstance(e, Alert) and e.rule == rule]


def test_a_sequence_fires_when_the_second_part_fires_exactly_within_the_time():
    assert len(fired(feed(engine(rules()), [(0.0, GLASS), (60.0, SPEECH)]))) == 1


def test_a_sequence_does_not_fire_when_the_second_part_is_late_by_half_a_second():
    assert fired(feed(engine(rules()), [(0.0, GLASS), (60.5, SPEECH)])) == []


def test_a_sequence_does_not_fire_in_the_wrong_order():
    assert fired(feed(engine(rules()), [(0.0, SPEECH), (20.0, GLASS)])) == []


def test_all_of_fires_in_any_order_within_the_time():
    eng = engine(rules("all_of: [glass, voices]"))
    assert len(fired(feed(eng, [(0.0, SPEECH), (20.0, GLASS)]))) == 1
    eng = engine(rules("all_of: [glass, voices]"))
    assert fired(feed(eng, [(0.0, SPEECH), (61.0, GLASS)])) == []


def test_parts_in_the_same_window_count_as_in_order():
    assert len(fired(feed(engine(rules()), [(0.0, {**GLASS, **SPEECH})]))) == 1


def test_the_compound_alert_joins_the_evidence_of_its_parts():
    events = feed(engine(rules()), [(0.0, GLASS), (30.0, SPEECH)])
    (alert,) = fired(events)
    assert alert.labels == ("glass_breaking", "speech")
    assert alert.label == "glass_breaking" and alert.score == 0.9
    assert alert.onset == 0.0 and alert.stream_time == 35.0
    assert [w.start for w in alert.windows] == [0.0, 30.0]


def test_a_building_block_rule_raises_no_alert_of_its_own():
    events = feed(engine(rules()), [(0.0, GLASS), (30.0, SPEECH)])
    assert {e.rule for e in events if isinstance(e, Alert)} == {"glass", "intruder"}


def test_a_compound_rule_respects_its_modes():
    eng = engine(rules(modes="[away]"))
    assert fired(feed(eng, [(0.0, GLASS), (30.0, SPEECH)])) == []
    eng.set_mode("away", hold=True)
    assert len(fired(feed(eng, [(100.0, GLASS), (130.0, SPEECH)]))) == 1


def test_the_compound_alert_clears_when_all_its_parts_have_cleared():
    eng = engine(rules())
    events = feed(eng, [(0.0, GLASS), (30.0, SPEECH), (31.0, {}), (40.0, {}), (44.0, {})])
    (alert,) = fired(events)
    cleared = [e for e in events if isinstance(e, AlertCleared) and e.rule == "intruder"]
    assert [c.alert_id for c in cleared] == [alert.id]
    assert cleared[0].stream_time == 45.0  # voices' last window ended at 35, clear_after 10 s


def test_a_three_part_sequence_needs_every_part_in_order():
    text = rules("sequence: [glass, bark, voices]", within="30s")
    assert len(fired(feed(engine(text), [(0.0, GLASS), (10.0, BARK), (25.0, SPEECH)]))) == 1
    assert fired(feed(engine(text), [(0.0, GLASS), (10.0, SPEECH), (20.0, BARK)])) == []
    assert fired(feed(engine(text), [(0.0, GLASS), (10.0, BARK), (31.0, SPEECH)])) == []


def test_compound_rules_can_build_on_compound_rules():
    eng = engine(rules() + """
      - name: break_in_with_dog
        sequence: [intruder, bark]
        within: 20s
    """)
    events = feed(eng, [(0.0, GLASS), (10.0, SPEECH), (25.0, BARK)])
    assert len(fired(events, "break_in_with_dog")) == 1
    assert len(fired(events)) == 1


def test_a_compound_rule_has_a_cooldown():
    eng = engine(rules())
    windows = [(0.0, GLASS), (10.0, SPEECH), (40.0, {}), (50.0, GLASS), (55.0, SPEECH)]
    assert len(fired(feed(eng, windows))) == 1  # second pair is inside the default 60 s cooldown
