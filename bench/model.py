"""The shipped model's cost vs a reference CNN the size of the seed projects'.

Both are ONNX files timed with the same ONNX Runtime settings (CPU, one thread) in
this run: multiply-adds per window (counted from the graph), parameters, file size,
and inference time for a single window and per window in a batch of 32. The shipped
model is timed twice: scores alone (a source without learnt sounds) and with the
embedding that learnt sounds need (a model without the switch always computes both). The
reference — 4 conv blocks (32/64/128/256 filters, 3x3, batch norm, max-pool), global
pooling, a 128-unit dense layer, ~0.44 M parameters on 128x216 — is built and
exported here with PyTorch (the ``train`` extra).

    python bench/model.py [--quick] [--model FILE]
"""

from __future__ import annotations

import _common  # noqa: F401  (first: it limits BLAS threads before numpy loads)
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from monitor.model.runner import EMBEDDING_SWITCH
from monitor.train.ondemand import has_switch

from _common import figures_line, load_model, model_args


def count_macs(path: Path) -> tuple[int, int, int]:
    """(multiply-adds per window on the scores' path, in all, parameters) from the graph's Conv/Gemm/MatMul
    nodes; an ``If`` node's then-branch (the embedding computed on request) counts only in all."""
    graph = shape_inference.infer_shapes(onnx.load(str(path))).graph
    inits: dict[str, np.ndarray] = {}
    shapes: dict[str, list[int]] = {}

    def learn(g: onnx.GraphProto) -> None:
        inits.update({i.name: numpy_helper.to_array(i) for i in g.initializer})
        for value in list(g.value_info) + list(g.output) + list(g.input):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else 1 for d in value.type.tensor_type.shape.dim]

    def macs_of(g: onnx.GraphProto) -> tuple[int, int]:
        learn(g)
        own = branch = 0
        for node in g.node:
            out = shapes.get(node.output[0])
            if node.op_type == "If":
                then = next(a.g for a in node.attribute if a.name == "then_branch")
                branch += sum(macs_of(then))
            elif node.op_type == "Conv" and out:
                own += int(np.prod(out[1:])) * int(np.prod(inits[node.input[1]].shape[1:]))
            elif node.op_type in ("Gemm", "MatMul") and out:
                weight = inits.get(node.input[1])
                k = weight.shape[0] if weight is not None and node.op_type == "MatMul" else (
                    weight.shape[1] if weight is not None else 0)
                own += int(np.prod(out[1:])) * int(k)
        return own, branch

    scores, branch = macs_of(graph)
    params = sum(int(a.size) for a in inits.values() if a.dtype.kind == "f")
    return scores, scores + branch, params


def reference_model(path: Path, n_labels: int, n_mels: int, n_frames: int) -> Path:
    import torch
    from torch import nn

    def block(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)
        )

    net = nn.Sequential(
        block(1, 32), block(32, 64), block(64, 128), block(128, 256),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, n_labels),
    ).eval()  # fmt: skip
    torch.onnx.export(
        net, torch.zeros(1, 1, n_mels, n_frames), str(path), input_names=["logmel"], output_names=["logits"],
        dynamic_axes={"logmel": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    return path


def time_model(path: Path, shape: tuple[int, int, int], repeats: int, embedding: bool) -> tuple[float, float]:
    """(ms for one window alone, ms per window in a batch of 32) with one ORT thread.

    A model that computes its embedding on request is asked for it only with ``embedding``.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    switch = {EMBEDDING_SWITCH: np.array(embedding)} if has_switch(onnx.load(str(path)).graph) else {}
    rng = np.random.default_rng(0)
    one = rng.standard_normal((1, *shape)).astype(np.float32) * 20 - 40
    batch = np.repeat(one, 32, axis=0)
    session.run(None, {name: batch, **switch})  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        session.run(None, {name: one, **switch})
    single = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    for _ in range(max(1, repeats // 8)):
        session.run(None, {name: batch, **switch})
    batched = (time.perf_counter() - t0) / max(1, repeats // 8) / 32
    return single * 1e3, batched * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_args(parser)
    args = parser.parse_args()
    shipped = load_model(args.model)
    f = shipped.metadata.features
    repeats = 50 if args.quick else 400
    with tempfile.TemporaryDirectory() as tmp:
        reference = reference_model(Path(tmp) / "reference.onnx", len(shipped.labels), f.n_mels, f.n_frames)
        rows = {}
        # "shipped": what a source without learnt sounds runs; "+embedding": what learnt sounds need.
        for name, path, embedding in (("shipped", args.model, False), ("+embedding", args.model, True),
                                      ("reference", reference, False)):
            scores_macs, all_macs, params = count_macs(path)
            single, batched = time_model(path, f.input_shape, repeats, embedding)
            macs = all_macs if embedding else scores_macs
            rows[name] = (macs, params, path.stat().st_size, single, batched)
    print(f"{'model':>10} {'M MACs':>8} {'params':>9} {'KB':>7} {'ms/window':>10} {'ms/window @32':>14}")
    for name, (macs, params, size, single, batched) in rows.items():
        print(f"{name:>10} {macs / 1e6:8.1f} {params:9,d} {size / 1024:7.0f} {single:10.2f} {batched:14.2f}")
    s, e, r = rows["shipped"], rows["+embedding"], rows["reference"]
    print(
        figures_line(
            {
                "shipped_mmacs": f"{s[0] / 1e6:.1f}",
                "shipped_params": s[1],
                "shipped_kb": f"{s[2] / 1024:.0f}",
                "shipped_ms_single": f"{s[3]:.2f}",
                "shipped_ms_batched": f"{s[4]:.2f}",
                "with_embedding_mmacs": f"{e[0] / 1e6:.1f}",
                "with_embedding_ms_single": f"{e[3]:.2f}",
                "with_embedding_ms_batched": f"{e[4]:.2f}",
                "reference_mmacs": f"{r[0] / 1e6:.1f}",
                "reference_params": r[1],
                "speedup_single_vs_reference": f"{r[3] / s[3]:.1f}",
                "speedup_batched_vs_reference": f"{r[4] / s[4]:.1f}",
            }
        )
    )


if __name__ == "__main__":
    main()
