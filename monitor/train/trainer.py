"""The training loop: balanced augmented windows made once, then epochs over them, per-epoch validation.

Takes cached features split into training and validation clips and a
:class:`TrainConfig`; gives the trained :class:`~monitor.train.model.SoundTagger`, or an
:class:`~monitor.train.model.Ensemble` of them when the config names several members
(each with the weights of its epoch with the best validation macro-F1), and the per-epoch history.
Targets are multi-label (sigmoid per label): an event mixed into a background clip
is that event *and* the background's label. Training windows (augmented, mixed and
mixed-up in the input domain, label-balanced) are made once and passed once through
the frozen lower trunk, with the frozen AudioSet teacher's predictions on them; the
epochs then train the blocks above and the head on those activations, so the costly
high-resolution layers are computed once per window instead of once per window per
epoch. With ``distill`` > 0 the attached AudioSet head is held to the teacher's
predictions, so sounds our data lacks keep the meaning AudioSet gave them.
Deterministic for a given seed (single-process data generation, fixed thread count).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from monitor.evaluate.clip_metrics import clip_scores, macro_f1
from monitor.evaluate.clips import EvalSet
from monitor.train.augment import WindowMaker
from monitor.train.cache import ClipFeatures
from monitor.train.config import TrainConfig
from monitor.train.model import Ensemble, Scorer, SoundTagger, Teacher


@dataclass
class Pool:
    """Training windows after the frozen lower trunk, their targets and the teacher's AudioSet scores."""

    lower: torch.Tensor  # (n, channels, bands, frames) float16
    targets: torch.Tensor  # (n, n_labels)
    teacher: torch.Tensor | None  # (n, 527) float16 sigmoid scores


def progress(what: str, done: int, total: int, started: float, extra: str = "") -> None:
    elapsed = time.monotonic() - started
    bar = "#" * int(20 * done / total)
    print(f"\r{what} [{bar:<20}] {extra}eta {elapsed / done * (total - done) / 60:.1f} min",
          end="\n" if done == total else "", file=sys.stderr, flush=True)


def predict_torch(model: nn.Module, windows: np.ndarray, batch: int = 64) -> np.ndarray:
    """Sigmoid scores (n_windows, n_labels), as the runtime computes them from the logits."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            x = torch.from_numpy(np.ascontiguousarray(windows[i : i + batch][:, None], dtype=np.float32))
            out.append(torch.sigmoid(model(x)[0]).numpy())
    return np.concatenate(out) if out else np.empty((0, 0), np.float32)


class Trainer:
    def __init__(
        self, config: TrainConfig, labels: tuple[str, ...], silence: str | None,
        train: list[ClipFeatures], maker: WindowMaker, init: Path | None = None,
    ) -> None:
        self.config = config
        self.labels = labels
        self.silence = silence
        self.maker = maker
        # label -> source label -> clips: a merged label's source labels take equal turns.
        self.by_label: dict[int, dict[str, list[ClipFeatures]]] = {}
        for f in train:
            self.by_label.setdefault(labels.index(f.clip.label), {}).setdefault(f.clip.source_label, []).append(f)
        self.label_ids = sorted(self.by_label) + ([labels.index(silence)] if silence else [])
        sizes = [sum(len(c) for c in self.by_label[i].values()) for i in sorted(self.by_label)]
        if silence:
            sizes.append(int(np.median(sizes)))
        weights = np.array(sizes, np.float64) ** config.balance
        self.label_p = weights / weights.sum()
        torch.manual_seed(config.seed)
        torch.set_num_threads(config.threads)
        self.rng = np.random.default_rng(config.seed)
        self.pretrained = init is not None
        frozen = config.frozen_blocks if self.pretrained else 0
        self.members = [SoundTagger(len(labels), init, frozen, segment_steps=steps) for steps in config.members]
        # Kept even without distillation: the exported embedding for learnt sounds comes from it.
        self.teacher = Teacher(self.members[0]) if self.pretrained else None

    @property
    def model(self) -> Scorer:
        """What is exported: the one member, or all of them averaged."""
        return self.members[0] if len(self.members) == 1 else Ensemble(self.members)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Balanced batch: a label (weighted by ``balance``), a source label of it, then a clip."""
        n, k = self.config.batch_size, len(self.labels)
        windows, target = [], np.zeros((n, k), np.float32)
        for i in range(n):
            label = self.label_ids[self.rng.choice(len(self.label_ids), p=self.label_p)]
            if self.silence and label == self.labels.index(self.silence):
                windows.append(self.maker.train_window(None, self.rng, silence=True))
            else:
                sources = self.by_label[label]
                clips = sources[sorted(sources)[self.rng.integers(len(sources))]]
                windows.append(self.maker.train_window(clips[self.rng.integers(len(clips))], self.rng))
                mixed = self.maker.last_background
                if mixed is not None and mixed.clip.label in self.labels:
                    target[i, self.labels.index(mixed.clip.label)] = 1.0
            target[i, label] = 1.0
        x = np.stack(windows)[:, None]
        if self.rng.random() < self.config.mixup_p:
            lam = float(self.rng.beta(self.config.mixup_alpha, self.config.mixup_alpha))
            perm = self.rng.permutation(n)
            x = lam * x + (1 - lam) * x[perm]
            target = lam * target + (1 - lam) * target[perm]
        eps = self.config.label_smoothing
        target = target * (1 - eps) + eps / 2
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(target)

    def make_pool(self) -> Pool:
        """``batches_per_epoch`` balanced batches, through the frozen lower trunk (and the teacher) once."""
        n = self.config.batches_per_epoch
        lower, targets, teacher = [], [], []
        started = time.monotonic()
        lowest = self.members[0]  # every member's frozen modules are the same
        lowest.eval()
        with torch.no_grad():
            for b in range(n):
                x, y = self.batch()
                h = lowest.lower(x)
                lower.append(h.half())
                targets.append(y)
                if self.teacher is not None and self.config.distill > 0:
                    teacher.append(torch.sigmoid(self.teacher(h)).half())
                progress("training windows", b + 1, n, started)
        return Pool(torch.cat(lower), torch.cat(targets), torch.cat(teacher) if teacher else None)

    def loss(self, member: SoundTagger, pool: Pool, idx: torch.Tensor) -> torch.Tensor:
        logits, embedding = member.upper(pool.lower[idx].float())
        loss = F.binary_cross_entropy_with_logits(logits, pool.targets[idx])
        if pool.teacher is not None:
            loss = loss + self.config.distill * F.binary_cross_entropy_with_logits(
                member.audioset_logits(embedding), pool.teacher[idx].float())
        return loss

    @staticmethod
    def val_scores(model: Scorer, val_lower: torch.Tensor, batch: int = 64) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            return np.concatenate([torch.sigmoid(model.upper(val_lower[i : i + batch])[0]).numpy()
                                   for i in range(0, len(val_lower), batch)])

    def fit(self, val: EvalSet, log=print) -> list[dict[str, float]]:
        """Train every member on the same pool (each keeps its best epoch); the history of all of them."""
        pool = self.make_pool()
        with torch.no_grad():
            val_lower = torch.cat([self.members[0].lower(torch.from_numpy(val.windows[i : i + 64][:, None].astype(np.float32)))
                                   for i in range(0, len(val.windows), 64)])
        history: list[dict[str, float]] = []
        for number, member in enumerate(self.members, 1):
            head = f"{member.segment_steps} trunk steps at a time" if member.segment_steps else "the window's mean"
            log(f"member {number}/{len(self.members)}: head scoring {head}")
            history += [{"member": number, **h} for h in self.fit_member(member, pool, val_lower, val, log)]
        if len(self.members) > 1:
            f1, acc = self.validate(self.model, val_lower, val)
            log(f"all members averaged: validation macro-F1 {f1:.3f}, accuracy {acc:.3f}")
        return history

    def validate(self, model: Scorer, val_lower: torch.Tensor, val: EvalSet) -> tuple[float, float]:
        """(macro-F1, accuracy) of the top label per validation clip."""
        scores = clip_scores(self.val_scores(model, val_lower), val.clip_of)
        return (macro_f1(val.targets, scores.argmax(axis=1), len(self.labels)),
                float((scores.argmax(axis=1) == val.targets).mean()))

    def fit_member(self, member: SoundTagger, pool: Pool, val_lower: torch.Tensor, val: EvalSet,
                   log=print) -> list[dict[str, float]]:
        c = self.config
        trunk_lr = c.learning_rate * (c.trunk_lr_scale if self.pretrained else 1.0)
        opt = torch.optim.AdamW(
            [{"params": member.trunk_parameters(), "lr": trunk_lr},
             {"params": member.head_parameters(), "lr": c.learning_rate}],
            weight_decay=c.weight_decay,
        )
        per_epoch = -(-len(pool.targets) // c.batch_size)
        total = c.epochs * per_epoch
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[trunk_lr, c.learning_rate], total_steps=total, pct_start=0.15)
        history: list[dict[str, float]] = []
        best, best_state = -1.0, None
        start = time.monotonic()
        for epoch in range(1, c.epochs + 1):
            member.train()
            losses = []
            order = torch.from_numpy(self.rng.permutation(len(pool.targets)))
            epoch_start = time.monotonic()
            for b in range(per_epoch):
                loss = self.loss(member, pool, order[b * c.batch_size : (b + 1) * c.batch_size])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
                progress(f"epoch {epoch}/{c.epochs}", b + 1, per_epoch, epoch_start, f"loss {np.mean(losses):.3f} ")
            f1, acc = self.validate(member, val_lower, val)
            history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_macro_f1": f1, "val_accuracy": acc,
                            "minutes": (time.monotonic() - start) / 60})
            log(f"epoch {epoch}: train loss {np.mean(losses):.3f}, validation macro-F1 {f1:.3f}, accuracy {acc:.3f}")
            if f1 > best:
                best = f1
                best_state = {k: v.detach().clone() for k, v in member.state_dict().items()}
        if best_state is not None:
            member.load_state_dict(best_state)
        member.eval()
        return history
