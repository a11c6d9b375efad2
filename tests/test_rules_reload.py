"""Hot reload: validated swaps, old rules kept on error, state kept for unchanged rules."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from monitor.alerts import Alert, AlertCleared
from monitor.rules.reload import RulesHolder
from rules_support import LABELS, pred

GLASS = {"glass_breaking": 0.9}
BARK = {"dog_bark": 0.9}

BASE = """
rules:
  - {name: glass, sound: glass_breaking, persistence: 2 of 3, cooldown: 60s, clear_after: 5s}
  - {name: dog, sound: dog_bark, cooldown: 60s, clear_after: 5s}
"""


def holder(tmp_path: Path, text: str = BASE) -> RulesHolder:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return RulesHolder(path, LABELS)


def rewrite(h: RulesHolder, text: str) -> None:
    h.path.write_text(text)
    stat = h.path.stat()  # make the change visible even within one mtime tick
    os.utime(h.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_an_unchanged_rule_keeps_its_persistence_count_and_cooldown(tmp_path: Path):
    h = holder(tmp_path)
    (alert,) = h.engine.process(pred(0.0, GLASS)) + h.engine.process(pred(1.0, GLASS))
    for t in range(2, 10):
        h.engine.process(pred(float(t)))  # the sound stops; the alert clears
    h.engine.process(pred(10.0, GLASS))  # starts counting 2 of 3 again
    assert [s.detail for s in h.engine.status("mic") if s.rule == "glass"] == ["51s left; 1 of 3 (needs 2)"]
    rewrite(h, BASE.replace("dog_bark, cooldown: 60s", "dog_bark, cooldown: 30s"))
    result = h.reload()
    assert result.ok and "reloaded 2 rules (1 unchanged kept their state)" in result.message
    # The kept count completes on the next window, but the kept cooldown (alert at 6 s) suppresses it.
    assert h.engine.process(pred(11.0, GLASS)) == []
    assert [s.state for s in h.engine.status("mic") if s.rule == "glass"] == ["cooling down"]


def test_a_changed_rule_starts_afresh_and_its_active_alert_is_cleared(tmp_path: Path):
    h = holder(tmp_path)
    (alert,) = h.engine.process(pred(0.0, BARK))
    rewrite(h, BASE.replace("dog_bark, cooldown: 60s", "dog_bark, cooldown: 30s"))
    result = h.reload()
    assert [(type(e), e.alert_id) for e in result.cleared] == [(AlertCleared, alert.id)]
    (again,) = h.engine.process(pred(1.0, BARK))  # no cooldown carried over
    assert again.rule == "dog" and again.id != alert.id


def test_an_invalid_file_keeps_the_running_rules_and_says_why(tmp_path: Path):
    h = holder(tmp_path)
    old = h.engine.rules
    rewrite(h, BASE.replace("dog_bark", "dog_barks"))
    result = h.reload()
    assert not result.ok
    assert result.message.startswith(f"{h.path}:4: unknown sound 'dog_barks'")
    assert h.engine.rules is old
    assert [type(e) for e in h.engine.process(pred(0.0, BARK))] == [Alert]


def test_reload_if_changed_only_reloads_a_changed_file(tmp_path: Path):
    h = holder(tmp_path)
    assert h.reload_if_changed() is None
    rewrite(h, BASE + "  - {name: baby, sound: baby_cry}\n")
    result = h.reload_if_changed()
    assert result is not None and result.ok
    assert [r.name for r in h.engine.rules.rules] == ["glass", "dog", "baby"]
    assert h.reload_if_changed() is None
    assert h.reload().message.endswith("unchanged")


def test_an_explicit_mode_survives_a_reload(tmp_path: Path):
    h = holder(tmp_path)
    h.engine.set_mode("away", hold=True)
    rewrite(h, BASE + "  - {name: baby, sound: baby_cry}\n")
    assert h.reload().ok
    assert h.engine.mode_state().mode == "away"


def test_reloading_while_predictions_flow_is_safe(tmp_path: Path):
    h = holder(tmp_path)
    variants = [BASE, BASE.replace("cooldown: 60s, clear_after: 5s}\n  - {name: dog", "cooldown: 2s, clear_after: 1s}\n  - {name: dog")]
    errors: list[BaseException] = []
    raised, cleared = set(), set()
    swaps = 0

    def feed() -> None:
        # Runs until both sides have done enough work, however the scheduler interleaves them.
        try:
            i = 0
            while i < 3000 or swaps < 20:
                for event in h.engine.process(pred(i * 0.5, GLASS if i % 7 < 3 else BARK if i % 11 == 0 else None)):
                    if isinstance(event, Alert):
                        raised.add(event.id)
                    else:
                        cleared.add(event.alert_id)
                i += 1
                time.sleep(0.0002)  # windows come at a pace; a tight loop would starve the reloader of the lock
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=feed)
    worker.start()
    while worker.is_alive():
        rewrite(h, variants[swaps % 2])
        result = h.reload()
        assert result.ok
        cleared.update(e.alert_id for e in result.cleared)
        swaps += 1
        time.sleep(0.001)
    worker.join()
    assert errors == []
    assert swaps >= 20 and raised
    assert cleared <= raised


def test_a_deleted_rules_file_keeps_the_running_rules_until_it_comes_back(tmp_path: Path):
    h = holder(tmp_path)
    h.path.unlink()
    result = h.reload_if_changed()
    assert result is not None and not result.ok and "rules file not found" in result.message
    assert h.reload_if_changed() is None  # the same missing file is not retried on every poll
    assert [r.name for r in h.engine.rules.rules] == ["glass", "dog"]
    h.path.write_text(BASE + "  - {name: baby, sound: baby_cry}\n")
    assert h.reload_if_changed().ok
    assert [r.name for r in h.engine.rules.rules] == ["glass", "dog", "baby"]
