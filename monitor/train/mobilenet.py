"""MobileNetV3 audio tagger in the layout of EfficientAT's mn04_as checkpoint.

Takes log-mel input ``(batch, 1, 128 bands, T frames)``, any ``T``, computed by the front end the
checkpoint was trained on (``KALDI_LOG_32K``). Gives the 527 AudioSet logits (multi-label: one
sigmoid per class) and the 384-value embedding (the global average of ``features.16``'s output,
before the head). Written from the architecture description in ``../shared/pretrained/README.md``
and the tensor list ``mn04_as_parameters.txt``; every module sits where the checkpoint names its
tensors, so :func:`load_pretrained` loads it with ``strict=True``.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from monitor.errors import UserError

BN_EPS = 0.001
BN_MOMENTUM = 0.01
N_AUDIOSET = 527
STEM = 8
EMBEDDING = 384
HIDDEN = 512
WHERE_TO_GET = "mn04_as_mAP_432.pt is the asset of release v0.0.1 of github.com/fschmid56/EfficientAT"


@dataclass(frozen=True)
class BlockSpec:
    """One inverted-residual block: depthwise kernel, expanded and output widths, SE, activation, stride."""

    kernel: int
    expanded: int
    out: int
    se: bool
    hardswish: bool
    stride: int


# features.1 ... features.15 as mn04_as_parameters.txt has them (MobileNetV3-Large x 0.4).
BLOCKS = (
    BlockSpec(3, 8, 8, False, False, 1),
    BlockSpec(3, 24, 16, False, False, 2),
    BlockSpec(3, 32, 16, False, False, 1),
    BlockSpec(5, 32, 16, True, False, 2),
    BlockSpec(5, 48, 16, True, False, 1),
    BlockSpec(5, 48, 16, True, False, 1),
    BlockSpec(3, 96, 32, False, True, 2),
    BlockSpec(3, 80, 32, False, True, 1),
    BlockSpec(3, 72, 32, False, True, 1),
    BlockSpec(3, 72, 32, False, True, 1),
    BlockSpec(3, 192, 48, True, True, 1),
    BlockSpec(3, 272, 48, True, True, 1),
    BlockSpec(5, 272, 64, True, True, 2),
    BlockSpec(5, 384, 64, True, True, 1),
    BlockSpec(5, 384, 64, True, True, 1),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Nearest multiple of ``divisor``, never below it and never more than 10 % below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
            activation: type[nn.Module] | None = None) -> nn.Sequential:
    """Conv (no bias, 'same' padding) + batch norm (+ activation), named ``.0``, ``.1`` as in the checkpoint."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel means -> ``fc1`` -> ReLU -> ``fc2`` -> sigmoid -> scale the input's channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeezed = make_divisible(channels / 4)
        self.fc1 = nn.Linear(channels, squeezed)
        self.fc2 = nn.Linear(squeezed, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.relu(self.fc1(x.mean(dim=(2, 3))))
        return x * torch.sigmoid(self.fc2(s))[:, :, None, None]


class SEHolder(nn.Module):
    """Holds the SE layer under ``conc_se_layers.0``, where the checkpoint keeps its tensors."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conc_se_layers = nn.ModuleList([SqueezeExcite(channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](x)


class InvertedResidual(nn.Module):
    """``block``: [1x1 expansion] -> depthwise kxk -> [SE] -> 1x1 projection; adds its input when shapes allow."""

    def __init__(self, c_in: int, spec: BlockSpec) -> None:
        super().__init__()
        act = nn.Hardswish if spec.hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if spec.expanded != c_in:
            layers.append(conv_bn(c_in, spec.expanded, 1, activation=act))
        layers.append(conv_bn(spec.expanded, spec.expanded, spec.kernel, spec.stride, groups=spec.expanded,
                              activation=act))
        if spec.se:
            layers.append(SEHolder(spec.expanded))
        layers.append(conv_bn(spec.expanded, spec.out, 1))
        self.block = nn.Sequential(*layers)
        self.residual = spec.stride == 1 and c_in == spec.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3(nn.Module):
    """mn04_as: ``features`` (stem, 15 blocks, 1x1 conv to 384) and ``classifier`` (pool, 384 -> 512 -> 527).

    ``forward(x)`` with ``x`` of shape (batch, 1, 128, T) gives ``(logits, embedding)``: the 527
    AudioSet logits (batch, 527) and the embedding (batch, 384).
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(1, STEM, 3, stride=2, activation=nn.Hardswish)]
        c_in = STEM
        for spec in BLOCKS:
            layers.append(InvertedResidual(c_in, spec))
            c_in = spec.out
        layers.append(conv_bn(c_in, EMBEDDING, 1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(EMBEDDING, HIDDEN), nn.Hardswish(),
            nn.Dropout(0.2), nn.Linear(HIDDEN, N_AUDIOSET),
        )

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's output, (batch, 384, 4, ceil(T / 32)): where a new head attaches."""
        return self.features(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 384-value embedding (batch, 384): the feature map averaged over frequency and time."""
        return self.features(x).mean(dim=(2, 3))

    def classify(self, embedding: torch.Tensor) -> torch.Tensor:
        """The AudioSet head on an embedding: (batch, 527) logits."""
        # classifier.0 and .1 (pool, flatten) are what embed() already did.
        return self.classifier[2:](embedding)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(527 AudioSet logits, 384-value embedding)."""
        embedding = self.embed(x)
        return self.classify(embedding), embedding


def load_pretrained(model: MobileNetV3, path: Path) -> None:
    """Load an mn04_as state dict into ``model`` strictly.

    Every kind of bad checkpoint (missing file, not a PyTorch file, not a state dict, missing,
    unexpected or misshaped tensors) is a one-line :class:`UserError` naming the problem.
    """
    state = read_state_dict(path)
    expected = model.state_dict()
    problems = [
        listed("missing", [k for k in expected if k not in state]),
        listed("unexpected", [k for k in state if k not in expected]),
        listed("misshaped", [f"{k} (expected {tuple(v.shape)}, got {tuple(state[k].shape)})"
                             for k, v in expected.items() if k in state and state[k].shape != v.shape]),
    ]
    if any(problems):
        raise UserError(f"checkpoint {path} is not an mn04_as MobileNetV3: {'; '.join(p for p in problems if p)}")
    model.load_state_dict(state, strict=True)


def read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    """The tensors of a ``torch.save``d state dict, loaded with ``weights_only=True`` (never unpickling objects)."""
    if not path.is_file():
        reason = "not a file" if path.exists() else "no such file"
        raise UserError(f"checkpoint {path}: {reason} ({WHERE_TO_GET})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip, EOF and key errors on files it cannot read
        # A zip that weights_only refuses to unpickle is a torch file holding Python objects.
        if isinstance(exc, pickle.UnpicklingError) and zipfile.is_zipfile(path):
            found = re.search(r"GLOBAL (\S+)", str(exc))
            what = f" ({found.group(1)})" if found else ""
            raise UserError(f"checkpoint {path}: not a state dict, it holds pickled Python objects{what} that are "
                            "not loaded (only tensors are)") from None
        raise UserError(f"checkpoint {path}: not a PyTorch file, or a damaged one ({one_line(exc)})") from None
    if not isinstance(state, Mapping):
        raise UserError(f"checkpoint {path}: not a state dict of named tensors (found {type(state).__name__})")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise UserError(f"checkpoint {path}: not a state dict of named tensors (entry {key!r} is "
                            f"{type(value).__name__}, not a tensor)")
    return state


def listed(problem: str, items: list[str], shown: int = 3) -> str:
    """'missing 5 tensors: a, b, c and 2 more' (empty when there are none)."""
    if not items:
        return ""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    noun = "tensor" if len(items) == 1 else f"{len(items)} tensors"
    return f"{problem} {noun}: {', '.join(items[:shown])}{more}"


def one_line(exc: BaseException) -> str:
    """An exception as one short line without terminal escapes: torch's messages run to paragraphs."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    first = text.splitlines()[0][:120] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
