"""MobileNetV3 audio tagger in the layout of EfficientAT's mn04_as checkpoint.

Takes log-mel input (batch, 1, 128 bands, T frames; any T) from the front end
``KALDI_LOG_32K``; gives the 527 AudioSet logits and the 384-value embedding (the
global average of the last feature map, before the head). Written from the
architecture description in ``../shared/pretrained/README.md``; parameter names and
shapes equal the checkpoint's, so :func:`load_pretrained` loads it strictly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from monitor.errors import UserError

BN_EPS = 0.001
BN_MOMENTUM = 0.01
N_AUDIOSET = 527


@dataclass(frozen=True)
class BlockSpec:
    kernel: int
    expanded: int
    out: int
    se: bool
    hardswish: bool
    stride: int


# features.1 ... features.15, widths as the checkpoint has them (MobileNetV3-Large x 0.4).
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
STEM = 8
EMBEDDING = 384
HIDDEN = 512


def make_divisible(value: float, divisor: int = 8) -> int:
    """Nearest multiple of ``divisor``, never below it and never more than 10 % below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
            activation: type[nn.Module] | None = None) -> nn.Sequential:
    """Conv (no bias) + batch norm (+ activation): ``.0`` conv, ``.1`` BN, as the checkpoint names them."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel means -> fc1 -> ReLU -> fc2 -> sigmoid -> scale the channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeezed = make_divisible(channels / 4)
        self.fc1 = nn.Linear(channels, squeezed)
        self.fc2 = nn.Linear(squeezed, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.relu(self.fc1(x.mean(dim=(2, 3))))
        return x * torch.sigmoid(self.fc2(s))[:, :, None, None]


class SEHolder(nn.Module):
    """Holds the SE layer under ``conc_se_layers.0``, the checkpoint's name for it."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conc_se_layers = nn.ModuleList([SqueezeExcite(channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](x)


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, spec: BlockSpec) -> None:
        super().__init__()
        act = nn.Hardswish if spec.hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if spec.expanded != c_in:
            layers.append(conv_bn(c_in, spec.expanded, 1, activation=act))
        layers.append(conv_bn(spec.expanded, spec.expanded, spec.kernel, spec.stride, groups=spec.expanded, activation=act))
        if spec.se:
            layers.append(SEHolder(spec.expanded))
        layers.append(conv_bn(spec.expanded, spec.out, 1))
        self.block = nn.Sequential(*layers)
        self.residual = spec.stride == 1 and c_in == spec.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3(nn.Module):
    """``features`` (stem, 15 blocks, 1x1 conv to 384) and ``classifier`` (pool, flatten, 384 -> 512 -> 527)."""

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

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 384-value embedding: the last feature map averaged over frequency and time."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(527 AudioSet logits, 384-value embedding)."""
        embedding = self.embed(x)
        return self.classifier[2:](embedding), embedding


def load_pretrained(model: MobileNetV3, path: Path) -> None:
    """Load an mn04_as state dict strictly; every kind of bad file is a one-line :class:`UserError`."""
    if not path.is_file():
        raise UserError(f"checkpoint {path}: no such file (mn04_as_mAP_432.pt is an asset of release v0.0.1 "
                        "of github.com/fschmid56/EfficientAT)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and its own errors for files that are not state dicts
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UserError(f"checkpoint {path}: not a PyTorch state dict ({first})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise UserError(f"checkpoint {path}: not a state dict of named tensors (found {type(state).__name__})")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f"{k} (expected {tuple(expected[k].shape)}, got {tuple(state[k].shape)})"
                 for k in expected if k in state and state[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"missing tensor{'s' * (len(missing) > 1)} {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else ""))
    if unexpected:
        problems.append(f"unexpected tensor{'s' * (len(unexpected) > 1)} {', '.join(unexpected[:3])}" + (" ..." if len(unexpected) > 3 else ""))
    if misshaped:
        problems.append(f"misshaped {', '.join(misshaped[:3])}" + (" ..." if len(misshaped) > 3 else ""))
    if problems:
        raise UserError(f"checkpoint {path} is not an mn04_as MobileNetV3: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)
