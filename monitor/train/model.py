"""The CNN: four conv blocks on a 128 x 216 log-mel window, global pooling, small head.

Takes dB log-mel windows (batch, 1, n_mels, n_frames); gives raw logits (batch,
n_labels) (softmax is applied by the runtime, as the model metadata declares). The dB
input is normalised inside the network by a fixed affine map, so the ONNX file needs
nothing but the runtime's features. About 28 M multiply-adds per window.
"""

from __future__ import annotations

import torch
from torch import nn

# dB inputs lie in about [-100, +10]; map them to roughly unit scale.
DB_CENTER = -45.0
DB_SCALE = 20.0


def block(c_in: int, c_out: int, pool: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(pool),
    )


class SoundCNN(nn.Module):
    def __init__(self, n_labels: int, channels: tuple[int, int, int, int] = (16, 32, 64, 128), dropout: float = 0.3) -> None:
        super().__init__()
        c1, c2, c3, c4 = channels
        # The first block pools 4x4: 3x3 detectors at full resolution, then the
        # expensive layers run at a quarter of the resolution in each direction.
        self.features = nn.Sequential(
            block(1, c1, (4, 4)),
            block(c1, c2, (2, 2)),
            block(c2, c3, (2, 2)),
            block(c3, c4, (1, 1)),
        )
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(2 * c4, 64),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout / 2),
            nn.Linear(64, n_labels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - DB_CENTER) / DB_SCALE
        x = self.features(x)
        x = x.mean(dim=2)  # over frequency -> (batch, channels, time)
        x = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        return self.head(x)


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
