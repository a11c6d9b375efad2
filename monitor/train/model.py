"""The network we train: the AudioSet MobileNetV3 trunk with a head for our labels.

Takes model-input windows (batch, 1, 128, n_frames) from the front end the model
declares (``KALDI_LOG_32K``); gives raw logits (batch, n_labels) — the runtime
applies the sigmoid the metadata declares — and a 384-value embedding (the
trunk's last feature map averaged over frequency and time).

By default the head scores the window's mean. With ``segment_steps`` > 0 it scores
a few time steps at a time instead (0.32 s each; 3 is about a second): the steps are
averaged in overlapping segments, each segment gets its own logits, and the window's
logit is a softmax-weighted mean of its segments' (per label, with a learnt sharpness:
0 is the plain mean, large is the maximum), so a single short crash decides a segment
instead of being averaged away over five seconds of room noise. With a pretrained start
the first ``frozen_blocks`` trunk modules keep AudioSet's weights (they are also the
expensive, high-resolution part, so training computes them once per training
window, see the trainer); the blocks above are fine-tuned. The pretrained AudioSet
head stays attached so training can keep the fine-tuned blocks close to what
AudioSet taught them (distillation from the frozen original); it is not exported.

Training can fine-tune several taggers ("members") on the same frozen lower trunk,
e.g. one scoring the window's mean and one scoring a second at a time; an
:class:`Ensemble` averages their probabilities. Each alone trades one kind of error
for another (the one-second head finds more short impacts and raises more false
coughs and footsteps); the average keeps most of both's strengths (measured on the
validation streams: as many events, fewer false alarms, but a false glass alarm the
single tagger did not raise, so the shipped model is one window-mean tagger).

What is exported is :class:`Served`: our logits, and the embedding learnt sounds
are classified from. With a pretrained start that embedding comes from a frozen
copy of AudioSet's own upper blocks on the shared lower trunk, because fine-tuning
specialises the tuned blocks to our labels and a sound we have no label for (a
doorbell, a cat) then lands close to whatever label it resembles.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from monitor.train.mobilenet import MobileNetV3, load_pretrained

EMBEDDING_SIZE = 384
# softplus(raw) = 1: segments' logits span several units, so this already leans towards the loudest segment.
SHARPNESS_INIT = math.log(math.e - 1.0)


class SoundTagger(nn.Module):
    def __init__(self, n_labels: int, init: Path | None = None, frozen_blocks: int = 0, dropout: float = 0.2,
                 segment_steps: int = 0) -> None:
        super().__init__()
        self.segment_steps = segment_steps
        self.net = MobileNetV3()
        if init is not None:
            load_pretrained(self.net, init)
        self.pretrained = init is not None
        self.frozen_blocks = frozen_blocks
        for p in self.net.features[:frozen_blocks].parameters():
            p.requires_grad_(False)
        hidden = self.net.classifier[2]
        self.head = nn.Sequential(
            nn.Linear(EMBEDDING_SIZE, hidden.out_features), nn.Hardswish(), nn.Dropout(dropout),
            nn.Linear(hidden.out_features, n_labels),
        )
        if init is not None:
            # AudioSet's own hidden layer is a better start for "which sound is this" than noise.
            self.head[0].load_state_dict(hidden.state_dict())
        # Per-label pooling sharpness (through softplus, so never negative: never a minimum).
        self.sharpness = nn.Parameter(torch.full((n_labels,), SHARPNESS_INIT)) if segment_steps else None

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen modules' output (the input itself when nothing is frozen)."""
        return self.net.features[: self.frozen_blocks](x)

    def upper(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(our logits, embedding) from the frozen modules' output."""
        steps = self.net.features[self.frozen_blocks :](h).mean(dim=2)  # (batch, 384, time steps)
        embedding = steps.mean(dim=2)
        if self.sharpness is None:
            return self.head(embedding), embedding
        segments = F.avg_pool1d(steps, min(self.segment_steps, steps.shape[2]), stride=1)
        logits = self.head(segments.transpose(1, 2))  # (batch, segments, labels)
        weights = torch.softmax(logits * F.softplus(self.sharpness), dim=1)
        return (weights * logits).sum(dim=1), embedding

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(our logits, embedding)."""
        return self.upper(self.lower(x))

    def audioset_logits(self, embedding: torch.Tensor) -> torch.Tensor:
        """The 527 AudioSet logits of the attached pretrained head."""
        return self.net.classify(embedding)

    def train(self, mode: bool = True) -> "SoundTagger":
        """Training mode; a pretrained trunk keeps its batch-norm statistics: CPU batches are
        small and our clips few, and AudioSet's statistics describe real audio better."""
        super().train(mode)
        if self.pretrained:
            for m in self.net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def trunk_parameters(self) -> list[nn.Parameter]:
        return list(self.net.features[self.frozen_blocks :].parameters())

    def head_parameters(self) -> list[nn.Parameter]:
        pooling = [self.sharpness] if self.sharpness is not None else []
        return list(self.head.parameters()) + list(self.net.classifier.parameters()) + pooling


class Ensemble(nn.Module):
    """Taggers sharing one frozen lower trunk, scored together: the logit of their mean probability.

    The runtime applies the sigmoid the metadata declares, so the file's scores are the members' mean
    probability. The embedding is the first member's.
    """

    def __init__(self, members: list[SoundTagger]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        # Every member's frozen modules are the checkpoint's: computed once, for all of them.
        return self.members[0].lower(x)

    def upper(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = [m.upper(h) for m in self.members]
        p = torch.stack([torch.sigmoid(logits) for logits, _ in outputs]).mean(dim=0).clamp(1e-6, 1 - 1e-6)
        return torch.log(p) - torch.log(1 - p), outputs[0][1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits of the mean probability, embedding)."""
        return self.upper(self.lower(x))


Scorer = SoundTagger | Ensemble


class Teacher(nn.Module):
    """The pretrained network above the frozen modules, frozen: AudioSet logits from ``SoundTagger.lower``'s output.

    Make it before training: it copies the tagger's blocks as they are then.
    """

    def __init__(self, model: SoundTagger) -> None:
        super().__init__()
        self.top = copy.deepcopy(model.net.features[model.frozen_blocks :])
        self.head = copy.deepcopy(model.net.classifier[2:])
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def embed(self, h: torch.Tensor) -> torch.Tensor:
        """AudioSet's 384-value embedding from ``SoundTagger.lower``'s output."""
        return self.top(h).mean(dim=(2, 3))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(h))


class Served(nn.Module):
    """What the model file computes: (our logits, embedding for learnt sounds) from model-input windows.

    The lower trunk runs once for both outputs; with a ``teacher`` the embedding is AudioSet's
    (its upper blocks add about 40 % to a window's time), without one the tagger's own.
    """

    def __init__(self, tagger: Scorer, teacher: Teacher | None) -> None:
        super().__init__()
        self.tagger = tagger
        self.teacher = teacher

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.tagger.lower(x)
        logits, embedding = self.tagger.upper(h)
        return logits, (self.teacher.embed(h) if self.teacher is not None else embedding)


def count_macs(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Multiply-adds of one forward pass on one window (conv and linear layers)."""
    macs = 0

    def conv_hook(module: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        macs += int(out.numel() // out.shape[0]) * k

    def linear_hook(module: nn.Linear, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal macs
        macs += module.in_features * module.out_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return macs
