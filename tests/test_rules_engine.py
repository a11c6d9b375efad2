"""Rule engine behaviour on hand-built prediction sequences (no model needed)."""

from __future__ import annotations

from monitor.alerts import Alert, AlertCleared, Severity
from rules_support import alerts, clears, engine, pred, run

GLASS = {"glass_breaking": 0.9}
SPEECH = {"speech": 0.9}


def one_rule(extra: str = "", sound: str = "glass_breaking") -> str:
    return f"""
    rules:
      - name: r
        sound: {sound}
        {extra}
    """


# -- thresholds ----------------------------------------------------------------

def test_a_score_at_the_rule_threshold_fires_and_just_below_does_not():
    below = engine(one_rule("threshold: 0.6"))
    assert run(below, [{"glass_breaking": 0.599}]) == []
    at = engine(one_rule("threshold: 0.6"))
    assert len(alerts(run(at, [{"glass_breaking": 0.6}]))) == 1


def test_without_a_rule_threshold_the_models_calibrated_threshold_applies():
    calibrated = engine(one_rule(), thresholds={"glass_breaking": 0.8})
    assert run(calibrated, [{"glass_breaking": 0.75}]) == []
    assert len(alerts(run(calibrated, [None, {"glass_breaking": 0.85}]))) == 1


def test_without_any_threshold_half_is_used():
    eng = engine(one_rule())
    assert run(eng, [{"glass_breaking": 0.49}]) == []
    assert len(alerts(run(engine(one_rule()), [{"glass_breaking": 0.5}]))) == 1


def test_group_rules_use_each_labels_own_calibrated_threshold():
    text = """
    groups:
      human: [speech, footsteps]
    rules:
      - name: r
        sound: human
    """
    eng = engine(text, thresholds={"speech": 0.9, "footsteps": 0.3})
    assert run(eng, [{"speech": 0.8}]) == []
    (index, alert), = alerts(run(eng, [None, None, {"footsteps": 0.35}]))
    assert alert.label == "footsteps" and alert.labels == ("footsteps",)


# -- persistence -------------------------------------------------------------------

def test_two_of_three_fires_on_the_window_that_completes_it():
    eng = engine(one_rule("persistence: 2 of 3"))
    (index, alert), = alerts(run(eng, [GLASS, None, GLASS]))
    assert index == 2
    assert alert.onset == 0.0 and alert.stream_time == 2.0 + 5.0
    assert [w.start for w in alert.windows] == [0.0, 2.0]


def test_two_of_three_ignores_hits_three_windows_apart():
    eng = engine(one_rule("persistence: 2 of 3"))
    assert alerts(run(eng, [GLASS, None, None, GLASS, None, None, GLASS])) == []


def test_for_duration_needs_every_window_detecting_for_that_long():
    eng = engine(one_rule("for: 3s"))
    (index, alert), = alerts(run(eng, [GLASS, GLASS, GLASS, GLASS]))
    assert index == 3  # window ends 5, 6, 7, 8: 3 s from the first to the latest
    assert alert.onset == 0.0 and len(alert.windows) == 4


def test_for_duration_starts_over_after_a_gap():
    eng = engine(one_rule("for: 3s"))
    assert alerts(run(eng, [GLASS, GLASS, GLASS, None, GLASS, GLASS, GLASS])) == []


# -- cooldown and clear ------------------------------------------------------------------

def test_a_long_sound_raises_one_alert_and_clears_after_the_clear_time():
    eng = engine(one_rule("cooldown: 60s\n        clear_after: 4s"))
    events = run(eng, [GLASS] * 30 + [None] * 6)
    (first, alert), = alerts(events)
    (cleared_at, cleared), = clears(events)
    assert first == 0
    assert cleared.alert_id == alert.id and cleared.rule == "r" and cleared.source == "mic"
    assert cleared_at == 33  # last hit window 29 ends at 34; 4 s later is window 33's end
    assert cleared.stream_time == 38.0


def test_a_repeat_inside_the_cooldown_is_suppressed_and_one_after_it_alerts():
    eng = engine(one_rule("cooldown: 20s\n        clear_after: 2s"))
    windows = [GLASS] + [None] * 5 + [GLASS] + [None] * 13 + [GLASS]
    fired = [i for i, _ in alerts(run(eng, windows))]
    assert fired == [0, 20]  # window 6 is inside 20 s; window 20 ends exactly 20 s after window 0


def test_an_episode_suppressed_by_the_cooldown_alerts_once_the_cooldown_is_over():
    eng = engine(one_rule("cooldown: 10s\n        clear_after: 2s"))
    windows = [GLASS, None, None, None] + [GLASS] * 12
    fired = [i for i, _ in alerts(run(eng, windows))]
    assert fired == [0, 10]


def test_stale_history_does_not_refire_a_rule_that_cleared():
    eng = engine(one_rule("persistence: 1 of 5\n        clear_after: 0s\n        cooldown: 0s"))
    fired = [i for i, _ in alerts(run(eng, [GLASS, None, None, None]))]
    assert fired == [0]


# -- level gate and skipped windows ------------------------------------------------------------------

def test_windows_below_the_level_gate_are_not_evidence():
    eng = engine(one_rule() + "min_level_dbfs: -50\n")
    assert run(eng, [GLASS], level=-50.5) == []
    assert len(alerts(run(eng, [None, GLASS], level=-49.0))) == 1


def test_a_rule_can_raise_its_own_gate_and_the_set_reports_the_lowest():
    eng = engine("""
    min_level_dbfs: -60
    rules:
      - {name: quiet, sound: baby_cry}
      - {name: loud, sound: glass_breaking, min_level_dbfs: -30}
    """)
    assert eng.min_gate_dbfs == -60.0
    assert run(eng, [GLASS], level=-40.0) == []


def test_skipped_windows_are_no_evidence_and_count_as_absence():
    eng = engine(one_rule("clear_after: 3s"))
    events = [e for i in range(5) for e in eng.process(pred(float(i), GLASS if i == 0 else None, skipped=i > 0))]
    assert [type(e) for e in events] == [Alert, AlertCleared]


# -- modes, hours, severity ---------------------------------------------------------------

AWAY_RULE = """
rules:
  - name: voices
    sound: speech
    modes: [away]
    severity: critical
  - name: shout
    sound: scream_or_shout
    severity: {home: warning, away: critical, night: warning}
"""


def test_a_rule_for_away_is_silent_at_home_and_fires_when_away():
    home = engine(AWAY_RULE)
    assert run(home, [SPEECH] * 3) == []
    away = engine(AWAY_RULE)
    away.set_mode("away", hold=True)
    (index, alert), = alerts(run(away, [SPEECH] * 3))
    assert alert.rule == "voices" and alert.mode == "away" and alert.severity is Severity.CRITICAL


def test_severity_can_depend_on_the_mode():
    eng = engine(AWAY_RULE)
    (_, at_home), = alerts(run(eng, [{"scream_or_shout": 0.9}], source="a"))
    eng.set_mode("away", hold=True)
    (_, away), = alerts(run(eng, [{"scream_or_shout": 0.9}], source="b"))
    assert (at_home.severity, away.severity) == (Severity.WARNING, Severity.CRITICAL)


def test_hours_limit_a_rule_to_a_time_of_day_window():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    eng = engine("""
    timezone: Europe/Berlin
    rules:
      - name: late
        sound: dog_bark
        hours: "22:00-06:00"
    """)
    evening = datetime(2026, 6, 1, 21, 50, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    # Windows end at 21:55:05 ... ; the first window ending after 22:00 fires.
    fired = [i for i, _ in alerts(run(eng, [{"dog_bark": 0.9}] * 600, t0=evening))]
    assert fired == [595]


# -- alert record, status, sources ------------------------------------------------------------

def test_the_alert_carries_peak_score_labels_onset_and_a_formatted_message():
    eng = engine("""
    groups:
      human: [speech, footsteps]
    rules:
      - name: people
        sound: human
        persistence: 2 of 2
        severity: info
        message: "{labels} on {source} ({score:.2f}, {mode})"
    """)
    (_, alert), = alerts(run(eng, [{"footsteps": 0.6, "speech": 0.55}, {"speech": 0.95}], source="hall"))
    assert alert.label == "speech" and alert.labels == ("speech", "footsteps")
    assert alert.score == 0.95 and alert.onset == 0.0 and alert.stream_time == 6.0
    assert alert.wall_time == pred(0.0).wall_time
    assert alert.message == "speech, footsteps on hall (0.95, home)"
    assert Alert.from_json(alert.to_json()) == alert


def test_a_rendered_message_is_cut_to_two_thousand_characters():
    template = "{labels:>100}" * 38  # 494 characters of template, 3800 rendered
    eng = engine(one_rule(f'message: "{template}"'))
    (_, alert), = alerts(run(eng, [GLASS]))
    assert len(alert.message) == 2000 and alert.message.endswith("…")


def test_status_shows_pending_active_cooling_down_and_idle():
    eng = engine(one_rule("persistence: 2 of 3\n        cooldown: 30s\n        clear_after: 2s"))

    def state() -> tuple[str, str]:
        (status,) = eng.status("mic")
        return status.state, status.detail

    eng.process(pred(0.0, GLASS))
    assert state() == ("pending", "1 of 3 (needs 2)")
    eng.process(pred(1.0, GLASS))
    assert state()[0] == "active"
    for t in (2.0, 3.0, 4.0):
        eng.process(pred(t))
    assert state() == ("cooling down", "27s left")
    for t in range(5, 40):
        eng.process(pred(float(t)))
    assert state() == ("idle", "")


def test_each_source_has_its_own_state():
    eng = engine(one_rule("persistence: 2 of 2"))
    assert eng.process(pred(0.0, GLASS, source="kitchen")) == []
    assert eng.process(pred(0.0, GLASS, source="hall")) == []
    (alert,) = eng.process(pred(1.0, GLASS, source="hall"))
    assert alert.source == "hall"
    assert {s.source: s.state for s in eng.status()} == {"kitchen": "pending", "hall": "active"}


def test_finishing_a_source_clears_its_alerts_and_forgets_it():
    eng = engine(one_rule())
    (alert,) = eng.process(pred(0.0, GLASS))
    (cleared,) = eng.finish("mic")
    assert cleared.alert_id == alert.id and cleared.stream_time == 5.0
    assert eng.status() == []


def test_a_sound_that_never_stops_keeps_memory_bounded_and_alerts_once_per_cooldown():
    eng = engine(one_rule("for: 2s\n        cooldown: 10m"))
    fired = []
    for i in range(4000):  # over an hour at a 1-s hop
        fired += [(i, e) for e in eng.process(pred(float(i), GLASS))]
    assert [i for i, _ in fired] == [2]  # one episode: the sound never stopped, so one alert
    state = eng._sources["mic"]["r"]
    assert len(state.run) <= 64 and state.run_first.window.start == 0.0


def test_status_lists_every_rule_for_a_new_source_and_says_which_apply_in_the_current_mode():
    eng = engine(AWAY_RULE)
    assert [(s.rule, s.state, s.enabled) for s in eng.status("porch")] == [
        ("voices", "idle", False), ("shout", "idle", True)]
    eng.set_mode("away", hold=True)
    assert all(s.enabled for s in eng.status("porch"))
