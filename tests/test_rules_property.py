"""Property: random prediction streams never give two alerts for one rule inside its cooldown,
never leave a rule active once its sound has been absent for its clear time, and every alert clears."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerts import Alert, AlertCleared
from monitor.predictions import Prediction
from monitor.rules import Engine, parse_rules

LABELS = ("glass_breaking", "speech", "background")
GATE = -60.0
THRESHOLD = 0.5

persistence = st.one_of(
    st.tuples(st.integers(1, 4), st.integers(0, 3)).map(lambda nm: f"persistence: {nm[0]} of {nm[0] + nm[1]}"),
    st.sampled_from([0, 0.5, 1, 2, 4]).map(lambda d: f"for: {d}s"),
)
window = st.fixed_dictionaries({
    "step": st.sampled_from([0.25, 0.5, 1.0, 1.0, 2.0, 7.0]),
    "glass": st.floats(0, 1),
    "speech": st.floats(0, 1),
    "level": st.sampled_from([-90.0, -61.0, -59.0, -30.0]),
    "skipped": st.booleans(),
})


@settings(max_examples=300, deadline=None)
@given(
    rule_a=persistence, rule_b=persistence,
    cooldowns=st.lists(st.sampled_from([0, 1, 3, 10, 30]), min_size=3, max_size=3),
    clears=st.lists(st.sampled_from([0, 1, 2.5, 5, 12]), min_size=2, max_size=2),
    within=st.sampled_from([1, 5, 20]),
    stream=st.lists(window, max_size=120),
    mode=st.sampled_from(["home", "away"]),
)
def test_random_streams_respect_cooldown_and_clear_time(rule_a, rule_b, cooldowns, clears, within, stream, mode):
    text = f"""
min_level_dbfs: {GATE}
rules:
  - {{name: a, sound: glass_breaking, threshold: {THRESHOLD}, {rule_a}, cooldown: {cooldowns[0]}s, clear_after: {clears[0]}s}}
  - {{name: b, sound: speech, threshold: {THRESHOLD}, {rule_b}, cooldown: {cooldowns[1]}s, clear_after: {clears[1]}s, modes: [away]}}
  - {{name: c, all_of: [a, b], within: {within}s, cooldown: {cooldowns[2]}s}}
"""
    engine = Engine(parse_rules(text, "prop.yaml", LABELS))
    engine.set_mode(mode, hold=True)
    cooldown = {"a": cooldowns[0], "b": cooldowns[1], "c": cooldowns[2]}
    clear_after = {"a": clears[0], "b": clears[1]}
    label = {"a": "glass_breaking", "b": "speech"}
    last_alert: dict[str, float] = {}
    last_hit: dict[str, float] = {}
    raised, cleared = set(), set()
    start = 0.0
    for w in stream:
        start += w["step"]
        scores = {} if w["skipped"] else {"glass_breaking": w["glass"], "speech": w["speech"], "background": 0.0}
        p = Prediction("src", start, start + 5.0, 1.7e9 + start, w["level"], scores, w["skipped"])
        events = engine.process(p)
        for event in events:
            if isinstance(event, Alert):
                assert event.rule not in last_alert or event.stream_time - last_alert[event.rule] >= cooldown[event.rule]
                last_alert[event.rule] = event.stream_time
                raised.add(event.id)
            else:
                assert event.alert_id in raised
                cleared.add(event.alert_id)
        enabled = {"a": True, "b": mode == "away"}
        for rule in ("a", "b"):
            hit = (not w["skipped"] and w["level"] >= GATE and enabled[rule]
                   and scores.get(label[rule], 0.0) >= THRESHOLD)
            if hit:
                last_hit[rule] = p.end
            elif rule not in last_hit or p.end - last_hit[rule] >= clear_after[rule]:
                status = next(s for s in engine.status("src") if s.rule == rule)
                assert status.state != "active", (rule, p.end, last_hit.get(rule))
    for event in engine.finish("src"):
        assert isinstance(event, AlertCleared)
        cleared.add(event.alert_id)
    assert cleared == raised
