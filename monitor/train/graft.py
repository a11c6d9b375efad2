"""Give a trained model file AudioSet's own embedding for learnt sounds; its label scores stay as they are.

Takes an exported model (``sound-monitor train --init``, trunk modules features.0..K-1
frozen at AudioSet's weights) and the pretrained checkpoint; writes a model file whose
``embedding`` output comes from a frozen copy of the checkpoint's features.K-16 fed by
the file's own features.K-1 output, as models trained since this change export it
(see :class:`~monitor.train.model.Served`). Everything on the scores' path is kept
node for node; the file gets a new ``model_id`` (sounds learnt on the old embedding are
refused) and loses its background bank, which must be rebuilt for the new embedding
(``sound-monitor learn --build-background-bank``). Checks, before it writes, that the
scores are unchanged and the embedding is the checkpoint's on the model's own input.

    python -m monitor.train.graft MODEL --init mn04_as_mAP_432.pt [--frozen-blocks 7] --out OUT
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from monitor.errors import ModelError, UserError
from monitor.model.runner import EMBEDDING_OUTPUT, ModelRunner
from monitor.train.config import TrainConfig
from monitor.train.export import OPSET, save_with_metadata
from monitor.train.mobilenet import MobileNetV3, load_pretrained
from monitor.train.ondemand import has_switch

PREFIX = "audioset/"


class _Top(nn.Module):
    """The checkpoint's modules from ``frozen_blocks`` on, averaged into the 384-value embedding."""

    def __init__(self, net: MobileNetV3, frozen_blocks: int) -> None:
        super().__init__()
        self.top = net.features[frozen_blocks:]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.top(h).mean(dim=(2, 3))


def _tap(graph: onnx.GraphProto, frozen_blocks: int, where: Path) -> str:
    """The tensor that enters features.``frozen_blocks``: the frozen part's output."""
    pattern = re.compile(rf"(^|/)features\.{frozen_blocks}/")
    first = next((n for n in graph.node if pattern.search(n.name)), None)
    if first is None:
        raise ModelError(f"{where}: no trunk module features.{frozen_blocks} in the graph (not a model from 'sound-monitor train'?)")
    return first.input[0]


def graft_audioset_embedding(model: Path, checkpoint: Path, out: Path, frozen_blocks: int = TrainConfig.frozen_blocks) -> float:
    """Write ``out``; returns the largest embedding difference against the checkpoint (relative to its scale)."""
    original = ModelRunner(model)
    metadata = original.metadata
    net = MobileNetV3()
    load_pretrained(net, checkpoint)
    net.eval()
    proto = onnx.load(str(model))
    graph = proto.graph
    if has_switch(graph):
        raise UserError(f"{model}: the model already computes AudioSet's embedding (on request); nothing to graft")
    tap = _tap(graph, frozen_blocks, model)

    with torch.no_grad():
        h = net.features[:frozen_blocks](torch.zeros(1, *metadata.features.input_shape))
    buffer = io.BytesIO()
    # eval() first: export restores the module's mode afterwards, and the modules are shared with ``net``.
    torch.onnx.export(_Top(net, frozen_blocks).eval(), (h,), buffer, dynamo=False, opset_version=OPSET,
                      input_names=["h"], output_names=["top"], dynamic_axes={"h": {0: "batch"}, "top": {0: "batch"}})
    branch = onnx.compose.add_prefix(onnx.load_from_string(buffer.getvalue()), PREFIX)

    # The old embedding tensor still feeds the head: rename it, then the branch's output takes the name.
    for node in graph.node:
        node.input[:] = ["tagger_embedding" if i == EMBEDDING_OUTPUT else i for i in node.input]
        node.output[:] = ["tagger_embedding" if o == EMBEDDING_OUTPUT else o for o in node.output]
    for node in branch.graph.node:
        node.input[:] = [tap if i == PREFIX + "h" else i for i in node.input]
        node.output[:] = [EMBEDDING_OUTPUT if o == PREFIX + "top" else o for o in node.output]
    graph.node.extend(branch.graph.node)
    graph.initializer.extend(branch.graph.initializer)
    output = next(o for o in graph.output if o.name == EMBEDDING_OUTPUT)
    output.CopyFrom(branch.graph.output[0])
    output.name = EMBEDDING_OUTPUT

    windows = np.random.default_rng(0).normal(-4.0, 2.0, (4, *metadata.features.input_shape[1:])).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / "grafted.onnx"
        save_with_metadata(proto, metadata, trial)
        scores, embedding = ModelRunner(trial).predict_with_embedding(windows)
        if np.abs(scores - original.predict(windows)).max() > 1e-6:
            raise ModelError(f"{model}: the grafted model's scores differ from the original's (a bug: please report it)")
        with torch.no_grad():
            expected = net.embed(torch.from_numpy(windows[:, None])).numpy()
        diff = float(np.abs(embedding - expected).max()) / max(1.0, float(np.abs(expected).max()))
        if diff > 1e-4:
            raise UserError(f"{model}: trunk modules features.0-{frozen_blocks - 1} are not the checkpoint's "
                            f"(embedding off by {diff:.1e}); give the --frozen-blocks the model was trained with")
        trial.replace(out)
    return diff


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m monitor.train.graft", description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path)
    p.add_argument("--init", type=Path, required=True, metavar="CHECKPOINT", help="the checkpoint the model was fine-tuned from")
    p.add_argument("--frozen-blocks", type=int, default=TrainConfig.frozen_blocks, help="as in training (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        diff = graft_audioset_embedding(args.model, args.init, args.out, args.frozen_blocks)
    except (UserError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: scores unchanged, embedding = the checkpoint's (max difference {diff:.1e}); "
          f"now run: sound-monitor learn --build-background-bank DATA --model {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
