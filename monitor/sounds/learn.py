"""Learning a sound: example recordings -> a :class:`~monitor.sounds.store.LearntSound`.

Takes a :class:`~monitor.model.runner.ModelRunner` with an embedding, the example
recordings, the user's background recordings and the model's background bank; gives
a :class:`Learnt` record (the sound, and what was used, skipped and measured).

1. Each example is trimmed to its sounding part (:mod:`monitor.sounds.examples`).
2. Positives: 5-s windows with the sound at several positions (at the start of a window
   as well as cut off at its end, as a sliding window meets it), mixed into the user's
   room (the background recordings, the examples' own quiet parts, synthetic room tone)
   at several event-to-background ratios, and once as recorded.
3. Negatives: windows of the background recordings and room tone, and the model's bank.
4. A logistic regression on the normalised embedding (:mod:`monitor.sounds.classifier`).
   Leave-one-example-out scores give each example's recall; out-of-fold scores of the
   negatives give the false alarms. An example the others do not recognise above the
   background is a different sound and is left out. The threshold sits between the
   highest background score and the examples' scores (in log-odds).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.errors import UserError
from monitor.features.logmel import MelFrames, logmel
from monitor.model.runner import ModelRunner
from monitor.sounds.classifier import fit_logistic, logistic_scores
from monitor.sounds.examples import Example, Skipped, read_examples
from monitor.sounds.store import LearntSound

MIN_EXAMPLES = 3
EBRS_DB = (-3.0, 3.0, 9.0)  # mixing ratios; recall is reported over those >= 0 dB and the recording as made
POSITIONS = 4
BACKGROUND_HOP_SECONDS = 2.5
MAX_BACKGROUND_WINDOWS = 240
ROOM_TONE_WINDOWS = 12
NEGATIVE_FOLDS = 5
MIN_RECALL = 0.5  # below: the examples are not one sound
THRESHOLD_FLOOR = 0.5  # never below: a learnt sound should be more likely than not
BATCH = 8


@dataclass(frozen=True)
class Learnt:
    sound: LearntSound
    used: list[Path]
    skipped: list[Skipped]
    loo_recall: float  # leave-one-example-out event recall at the threshold (EBR >= 0 dB)
    false_alarms_per_hour: float  # out-of-fold, on the background it had
    background_hours: float
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass
class _Windows:
    """Embeddings of the training windows and where each came from."""

    positives: np.ndarray  # (n, d)
    example: np.ndarray  # (n,) index of the example of each positive
    counted: np.ndarray  # (n,) bool: mixed at EBR >= 0 dB or as recorded (what recall is measured on)
    event: np.ndarray  # (n,) event id: one example at one EBR (its positions are one event)
    negatives: np.ndarray  # (m, d)
    negative_seconds: float


class Embedder:
    """Log-mel and embedding of 5-s windows, in batches."""

    def __init__(self, runner: ModelRunner) -> None:
        self.runner = runner
        self.params = runner.metadata.features
        self.frames = MelFrames(self.params)
        self._pending: list[np.ndarray] = []
        self._done: list[np.ndarray] = []

    def add(self, window: np.ndarray) -> None:
        m = logmel(window.astype(np.float32), self.params, self.frames)[:, : self.params.n_frames]
        self._pending.append(m)
        if len(self._pending) == BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            embedding = self.runner.predict_with_embedding(np.stack(self._pending))[1]
            assert embedding is not None
            self._done.append(embedding)
            self._pending = []

    def take(self) -> np.ndarray:
        """Embeddings of every window added since the last take, in order."""
        self._flush()
        out = np.concatenate(self._done) if self._done else np.empty((0, self.runner.embedding_size or 0))
        self._done = []
        return out


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def learn(runner: ModelRunner, name: str, paths: list[Path], backgrounds: list[np.ndarray],
          bank: np.ndarray | None, seed: int = 0) -> Learnt:
    """Learn ``name`` from ``paths`` (UserError when it cannot be learnt, saying why)."""
    if runner.embedding_size is None or runner.metadata.model_id is None:
        raise UserError(f"{runner.path}: the model has no embedding output (or no model_id): learnt sounds "
                        "need a model exported with one")
    started = time.perf_counter()
    params = runner.metadata.features
    examples, skipped = read_examples(paths, params.sample_rate)
    _enough(examples, skipped)
    rng = np.random.default_rng(seed)
    rooms = [b for b in backgrounds if rms(b) > 0] + [e.room for e in examples if len(e.room) >= params.sample_rate]
    windows = _windows(Embedder(runner), examples, rooms, bank, rng)
    notes: list[str] = []
    keep = _agreeing(windows, len(examples))
    if len(keep) < len(examples):
        odd = [i for i in range(len(examples)) if i not in keep]
        if len(odd) * 2 > len(examples):
            raise UserError("the examples do not sound alike (none is recognised by the others above the "
                            "background): give recordings of one sound only")
        for i in odd:
            skipped.append(Skipped(examples[i].path, "does not sound like the other examples (they do not "
                                   "recognise it above the background): check it is the same sound"))
        examples = [examples[i] for i in keep]
        _enough(examples, skipped)
        windows = _subset(windows, keep)
    pos_oof, neg_oof = _out_of_fold(windows, len(examples))
    threshold = _threshold(windows, pos_oof, neg_oof)
    recall = _recall(windows, pos_oof, threshold)
    if recall < MIN_RECALL:
        raise UserError(f"the examples do not sound alike (each held out, the others recognise only "
                        f"{recall:.0%} of it): give recordings of one sound only, and more of them")
    hours = windows.negative_seconds / 3600
    fa = float(np.sum(neg_oof >= threshold)) / hours
    if recall < 0.8:
        notes.append(f"leave-one-out recall is only {recall:.2f}: add more examples, recorded where the sound "
                     "will be heard, and a --background recording of the room")
    if fa > 1.0:
        notes.append(f"about {fa:.1f} false alarms per hour on the background: some background sounds like it; "
                     "pass --background recordings of the room, or use persistence (e.g. '2 of 3') in its rule")
    weights, bias = _fit(windows, np.ones(len(windows.positives), bool), np.ones(len(windows.negatives), bool))
    learnt = {"examples": [str(e.path) for e in examples],
              "skipped": [f"{s.path}: {s.reason}" for s in skipped],
              "loo_recall": round(recall, 3), "false_alarms_per_hour": round(fa, 2),
              "background_hours": round(hours, 3), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    sound = LearntSound(name, runner.metadata.model_id, weights, bias, threshold, learnt)
    return Learnt(sound, [e.path for e in examples], skipped, recall, fa, hours,
                  time.perf_counter() - started, notes)


def _enough(examples: list[Example], skipped: list[Skipped]) -> None:
    if len(examples) < MIN_EXAMPLES:
        why = "".join(f"; {s.path.name}: {s.reason}" for s in skipped)
        raise UserError(f"{len(examples)} usable example{'s' if len(examples) != 1 else ''}, at least "
                        f"{MIN_EXAMPLES} are needed (record the sound a few more times){why}")


def _segment(audio: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``audio`` from a random start, repeated if it is shorter."""
    if len(audio) < n:
        audio = np.tile(audio, -(-n // len(audio)))
    start = int(rng.integers(0, len(audio) - n + 1))
    return audio[start : start + n].astype(np.float32)


def _room_tone(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    from monitor.train.roomtone import room_tone

    return room_tone(rng, n, sample_rate).astype(np.float32)


def _windows(embedder: Embedder, examples: list[Example], rooms: list[np.ndarray], bank: np.ndarray | None,
             rng: np.random.Generator) -> _Windows:
    sr, n = embedder.params.sample_rate, embedder.params.window_samples
    example_of, counted, event_of = [], [], []
    for i, ex in enumerate(examples):
        crops = [ex.sound[s : s + n] for s in np.linspace(0, len(ex.sound) - n, POSITIONS).astype(int)] \
            if len(ex.sound) > n else [ex.sound] * POSITIONS
        for k, ebr in enumerate((*EBRS_DB, None)):
            for p, sound in enumerate(crops):
                offset = int(round((n - len(sound)) * p / (POSITIONS - 1)))
                if ebr is None:  # as recorded, over the example's own room if it has one
                    own = ex.room if len(ex.room) >= sr // 2 else _room_tone(rng, n, sr)
                    bed = _segment(own, n, rng)
                    gain = 1.0
                else:
                    pool = rooms or [_room_tone(rng, n, sr)]
                    bed = _segment(pool[int(rng.integers(len(pool)))], n, rng)
                    span = bed[offset : offset + len(sound)]
                    gain = max(rms(span), 1e-5) * 10 ** (ebr / 20) / max(rms(sound), 1e-9)
                mix = bed.copy()
                mix[offset : offset + len(sound)] += gain * sound
                embedder.add(_level(mix, rng))
                example_of.append(i)
                counted.append(ebr is None or ebr >= 0)
                event_of.append(i * (len(EBRS_DB) + 1) + k)
    positives = embedder.take()
    seconds = 0.0
    hop = int(BACKGROUND_HOP_SECONDS * sr)
    room_windows = [r[s : s + n] for r in rooms for s in range(0, max(1, len(r) - n + 1), hop) if len(r) >= n]
    if len(room_windows) > MAX_BACKGROUND_WINDOWS:
        room_windows = [room_windows[j] for j in sorted(rng.choice(len(room_windows), MAX_BACKGROUND_WINDOWS, False))]
    for w in room_windows:
        embedder.add(w)
        seconds += BACKGROUND_HOP_SECONDS
    for _ in range(ROOM_TONE_WINDOWS):
        embedder.add(_level(_room_tone(rng, n, sr), rng))
        seconds += n / sr
    negatives = embedder.take()
    if bank is not None:
        negatives = np.concatenate([negatives, bank])
        seconds += len(bank) * n / sr  # independent windows, each standing for one window length
    return _Windows(positives, np.array(example_of), np.array(counted), np.array(event_of), negatives, seconds)


def _level(mix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The window at a random level within the range rooms and microphones give (and never clipped)."""
    target = 10 ** (rng.uniform(-42, -22) / 20)
    out = mix * (target / max(rms(mix), 1e-9))
    peak = float(np.max(np.abs(out)))
    return out * (0.99 / peak) if peak > 0.99 else out


def _subset(w: _Windows, keep: list[int]) -> _Windows:
    mask = np.isin(w.example, keep)
    renumber = {old: new for new, old in enumerate(keep)}
    return _Windows(w.positives[mask], np.array([renumber[i] for i in w.example[mask]]), w.counted[mask],
                    w.event[mask], w.negatives, w.negative_seconds)


def _fit(w: _Windows, pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit on the selected positives and negatives, each side carrying half the total weight."""
    x = np.concatenate([w.positives[pos], w.negatives[neg]])
    y = np.concatenate([np.ones(int(pos.sum())), np.zeros(int(neg.sum()))])
    s = np.concatenate([np.full(int(pos.sum()), 0.5 / pos.sum()), np.full(int(neg.sum()), 0.5 / neg.sum())])
    return fit_logistic(x, y, s)


def _agreeing(w: _Windows, n_examples: int) -> list[int]:
    """Examples the others recognise: a leave-one-out score above every background window's and
    above even odds (a recording of a different sound scores like background, or near it)."""
    all_neg = np.ones(len(w.negatives), bool)
    keep = []
    for i in range(n_examples):
        mine = w.example == i
        weights, bias = _fit(w, ~mine, all_neg)
        best = logistic_scores(w.positives[mine & w.counted], weights, bias).max()
        if best > max(0.5, logistic_scores(w.negatives, weights, bias).max()):
            keep.append(i)
    return keep


def _out_of_fold(w: _Windows, n_examples: int) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-example-out scores of the positives and k-fold scores of the negatives."""
    pos = np.zeros(len(w.positives))
    all_neg = np.ones(len(w.negatives), bool)
    for i in range(n_examples):
        mine = w.example == i
        weights, bias = _fit(w, ~mine, all_neg)
        pos[mine] = logistic_scores(w.positives[mine], weights, bias)
    neg = np.zeros(len(w.negatives))
    fold = np.arange(len(w.negatives)) % NEGATIVE_FOLDS
    all_pos = np.ones(len(w.positives), bool)
    for k in range(NEGATIVE_FOLDS):
        weights, bias = _fit(w, all_pos, fold != k)
        neg[fold == k] = logistic_scores(w.negatives[fold == k], weights, bias)
    return pos, neg


def _event_scores(w: _Windows, pos_oof: np.ndarray) -> np.ndarray:
    """Per counted event (one example at one EBR), the best score of its windows."""
    events = np.unique(w.event[w.counted])
    return np.array([pos_oof[w.event == e].max() for e in events])


def _threshold(w: _Windows, pos_oof: np.ndarray, neg_oof: np.ndarray) -> float:
    """Half-way, in log-odds, between the highest background score and the weakest 10 % of the events."""
    events = _event_scores(w, pos_oof)
    top_neg = float(neg_oof.max())
    low_pos = float(np.percentile(events, 10))
    logit = (lambda p: math.log(max(p, 1e-9) / max(1 - p, 1e-9)))
    if low_pos > top_neg:
        t = 1 / (1 + math.exp(-(logit(top_neg) + logit(low_pos)) / 2))
    else:  # the weakest events overlap the background: stay just above the background
        t = 1 / (1 + math.exp(-(logit(top_neg) + 0.5)))
    return float(min(0.99, max(THRESHOLD_FLOOR, t)))


def _recall(w: _Windows, pos_oof: np.ndarray, threshold: float) -> float:
    events = _event_scores(w, pos_oof)
    return float(np.mean(events >= threshold))
