"""Per-rule, per-source state machines: evidence in, onsets, alerts and clears out.

Takes one rule and, window by window, whether each window is evidence for it;
gives :class:`Evidence` when the rule's condition is first met (an *episode* starts;
compound rules listen for these), decides when that becomes an alert (not inside
the cooldown after the previous alert), and ends the episode once the sound has
been absent for ``clear_after`` seconds, so no state is ever stuck on.

States shown on the dashboard: ``idle``, ``pending`` (some evidence, "n of m"),
``active`` (episode with an alert, or a silent building-block rule's episode) and
``cooling down`` (within the cooldown after an alert, or an episode whose alert the
cooldown suppressed).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

from monitor.alerts import WindowRef
from monitor.onset import LevelEnvelope, estimate_onset
from monitor.rules.schema import CompoundRule, SimpleRule

# A sound that goes on for hours must not grow a rule's memory: a 'for:' rule keeps
# the first window of a run (its onset) and this many of the latest.
RUN_WINDOWS = 64


@dataclass(frozen=True)
class Hit:
    """One window that was evidence: where, which labels scored above threshold, how much."""

    window: WindowRef
    wall_time: float
    scores: dict[str, float]  # labels above threshold -> score
    envelope: LevelEnvelope | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Evidence:
    """What fired a rule: the windows, their peak score and labels, and the onset.

    The onset is estimated inside the first window (its level envelope's strongest rise,
    :mod:`monitor.onset`): that window is the first to score, so the sound began in it.
    """

    hits: tuple[Hit, ...]
    stream_time: float  # end of the window that completed the condition

    @cached_property
    def onset(self) -> float:
        first = self.hits[0]
        return estimate_onset(first.envelope, first.window.start, first.window.end)

    @property
    def wall_time(self) -> float:
        """Unix time of the onset."""
        first = self.hits[0]
        return first.wall_time + (self.onset - first.window.start)

    @property
    def peaks(self) -> dict[str, float]:
        """Each detected label's peak score, best first."""
        peaks: dict[str, float] = {}
        for hit in self.hits:
            for label, score in hit.scores.items():
                peaks[label] = max(score, peaks.get(label, 0.0))
        return dict(sorted(peaks.items(), key=lambda kv: kv[1], reverse=True))

    @property
    def score(self) -> float:
        return next(iter(self.peaks.values()))

    @property
    def label(self) -> str:
        return next(iter(self.peaks))


@dataclass(frozen=True)
class RuleStatus:
    """A rule's state for one source, for the dashboard."""

    rule: str
    source: str
    state: str  # "idle" | "pending" | "active" | "cooling down"
    detail: str  # e.g. "2 of 3", "1.0s of 3s", "42s left"
    alert_id: str | None = None
    enabled: bool = True  # whether the rule applies in the current mode and time of day


@dataclass
class Episode:
    """A sound event in progress for one rule: started when the condition was met."""

    evidence: Evidence
    alert_id: str | None = None


@dataclass
class SimpleState:
    rule: SimpleRule
    history: deque[Hit | None] = field(default_factory=deque)
    run_first: Hit | None = None  # the first of the current consecutive hits, for 'for:' rules
    run: deque[Hit] = field(default_factory=lambda: deque(maxlen=RUN_WINDOWS))  # and the latest of them
    last_hit_end: float | None = None
    last_alert: float | None = None
    episode: Episode | None = None
    now: float = 0.0

    def step(self, hit: Hit | None, end: float) -> tuple[Evidence | None, Evidence | None, Episode | None]:
        """Feed one window (``hit`` None = not evidence). Returns (onset, alert_due, ended):
        evidence if an episode started, evidence if an alert is due now, the episode that ended."""
        self.now = end
        persistence = self.rule.persistence
        ended = None
        if hit is not None:
            self.last_hit_end = end
            self.run_first = self.run_first or hit
            self.run.append(hit)
        else:
            self.run_first = None
            self.run.clear()
        if persistence.duration is None:
            self.history.append(hit)
            while len(self.history) > persistence.of:
                self.history.popleft()
        if self.episode is not None and hit is None and (
                self.last_hit_end is None or end - self.last_hit_end >= self.rule.clear_after):
            ended, self.episode = self.episode, None
        # Only a detecting window starts an episode or fires: stale evidence left in the
        # N-of-M history must not re-fire a rule that has just cleared.
        evidence = self._condition(end) if hit is not None else None
        onset = None
        if evidence is not None and self.episode is None:
            self.episode = Episode(evidence)
            onset = evidence
        due = None
        if (evidence is not None and self.episode is not None and self.episode.alert_id is None
                and self.rule.timing.alert and self.cooled(end)):
            due = evidence
        return onset, due, ended

    def _condition(self, end: float) -> Evidence | None:
        persistence = self.rule.persistence
        if persistence.duration is not None:
            first = self.run_first
            if first is not None and self.run[-1].window.end - first.window.end >= persistence.duration:
                later = tuple(h for h in self.run if h is not first)
                return Evidence((first,) + later, end)
            return None
        hits = tuple(h for h in self.history if h is not None)
        return Evidence(hits, end) if len(hits) >= persistence.hits else None

    def cooled(self, now: float) -> bool:
        return self.last_alert is None or now - self.last_alert >= self.rule.timing.cooldown

    def alerted(self, alert_id: str, now: float) -> None:
        assert self.episode is not None
        self.episode.alert_id = alert_id
        self.last_alert = now

    def finish(self) -> Episode | None:
        """End of stream: the sound is gone for good."""
        ended, self.episode = self.episode, None
        self.history.clear()
        self.run_first = None
        self.run.clear()
        return ended

    def status(self, source: str) -> RuleStatus:
        name, persistence = self.rule.name, self.rule.persistence
        if self.episode is not None and (self.episode.alert_id or not self.rule.timing.alert):
            return RuleStatus(name, source, "active", persistence.describe(), self.episode.alert_id)
        if persistence.duration is not None:
            held = self.run[-1].window.end - self.run_first.window.end if self.run_first else None
            progress = f"{held:.1f}s of {persistence.duration:g}s" if held is not None else ""
        else:
            count = sum(h is not None for h in self.history)
            progress = f"{count} of {persistence.of} (needs {persistence.hits})" if count else ""
        if self.episode is not None or not self.cooled(self.now):
            left = f"{max(self.rule.timing.cooldown - (self.now - (self.last_alert or 0.0)), 0):.0f}s left"
            return RuleStatus(name, source, "cooling down", f"{left}; {progress}" if progress else left)
        return RuleStatus(name, source, "pending" if progress else "idle", progress)


@dataclass
class CompoundState:
    """Recent onsets of each part; fires when the parts line up within ``within``."""

    rule: CompoundRule
    onsets: dict[str, deque[Evidence]] = field(default_factory=dict)
    last_alert: float | None = None
    episode: Episode | None = None
    now: float = 0.0

    def part_onset(self, part: str, evidence: Evidence, enabled: bool) -> tuple[Evidence | None, bool]:
        """A part's episode started. Returns (the compound's evidence if it starts an episode now,
        whether an alert is due)."""
        now = evidence.stream_time
        self.now = now
        if not enabled:
            return None, False
        self.onsets.setdefault(part, deque()).append(evidence)
        for queue in self.onsets.values():
            while queue and now - queue[0].stream_time > self.rule.within:
                queue.popleft()
        if self.episode is not None:
            return None, False
        chain = self._chain(part, evidence)
        if chain is None:
            return None, False
        combined = Evidence(_merge_hits(chain), now)
        self.episode = Episode(combined)
        due = self.rule.timing.alert and (self.last_alert is None or now - self.last_alert >= self.rule.timing.cooldown)
        return combined, due

    def _chain(self, part: str, latest: Evidence) -> list[Evidence] | None:
        parts = self.rule.parts
        if self.rule.ordered:
            if part != parts[-1]:
                return None
            chain = [latest]
            for earlier in reversed(parts[:-1]):
                candidates = [e for e in self.onsets.get(earlier, ()) if e.stream_time <= chain[0].stream_time]
                if not candidates:
                    return None
                chain.insert(0, candidates[-1])
            return chain
        chosen = []
        for other in parts:
            queue = self.onsets.get(other)
            if not queue:
                return None
            chosen.append(latest if other == part else queue[-1])
        return sorted(chosen, key=lambda e: e.stream_time)

    def alerted(self, alert_id: str, now: float) -> None:
        assert self.episode is not None
        self.episode.alert_id = alert_id
        self.last_alert = now

    def update(self, now: float, parts_in_episode: bool) -> Episode | None:
        """Once per window: the compound's episode ends when none of its parts is in one."""
        self.now = max(self.now, now)
        for queue in self.onsets.values():
            while queue and self.now - queue[0].stream_time > self.rule.within:
                queue.popleft()
        if self.episode is not None and not parts_in_episode:
            ended, self.episode = self.episode, None
            return ended
        return None

    def finish(self) -> Episode | None:
        ended, self.episode = self.episode, None
        self.onsets.clear()
        return ended

    def status(self, source: str) -> RuleStatus:
        name = self.rule.name
        if self.episode is not None and (self.episode.alert_id or not self.rule.timing.alert):
            return RuleStatus(name, source, "active", "", self.episode.alert_id)
        cooling = self.last_alert is not None and self.now - self.last_alert < self.rule.timing.cooldown
        if self.episode is not None or cooling:
            left = self.rule.timing.cooldown - (self.now - (self.last_alert or 0.0))
            return RuleStatus(name, source, "cooling down", f"{max(left, 0):.0f}s left")
        seen = sum(1 for p in self.rule.parts if self.onsets.get(p))
        if seen:
            return RuleStatus(name, source, "pending", f"{seen} of {len(self.rule.parts)} parts")
        return RuleStatus(name, source, "idle", "")


def _merge_hits(chain: list[Evidence]) -> tuple[Hit, ...]:
    """The windows of several parts' evidence, each window once, with all its labels."""
    merged: dict[tuple[float, float], Hit] = {}
    for evidence in chain:
        for hit in evidence.hits:
            key = (hit.window.start, hit.window.end)
            old = merged.get(key)
            if old is None:
                merged[key] = hit
            else:
                scores = {**old.scores, **{k: max(v, old.scores.get(k, 0.0)) for k, v in hit.scores.items()}}
                merged[key] = Hit(WindowRef(old.window.start, old.window.end, max(old.window.score, hit.window.score)),
                                  old.wall_time, scores, old.envelope)
    return tuple(merged[k] for k in sorted(merged))
