"""The embedding on request: an exported graph that computes its ``embedding`` output only when asked.

Takes an ONNX graph with outputs ``scores`` and ``embedding``; gives the same graph with the nodes
that only the embedding needs moved into an ``If`` on a boolean input ``with_embedding`` (default
true, so a runtime that feeds only the window still gets both outputs). Unasked, the embedding is an
empty ``[0, size]`` tensor. ONNX Runtime runs every node of a graph whichever outputs are requested,
so this is what spares a source with no learnt sounds the embedding branch (about a third of a
window's time with AudioSet's own embedding). Models exported since this change have it; an older
file gets it, metadata and ``model_id`` unchanged (the outputs are the same numbers), with

    python -m monitor.train.ondemand MODEL [--out OUT]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from monitor.errors import ModelError, UserError
from monitor.model.runner import EMBEDDING_OUTPUT, EMBEDDING_SWITCH, ModelRunner


def _producers(graph: onnx.GraphProto) -> dict[str, int]:
    return {out: i for i, node in enumerate(graph.node) for out in node.output}


def _needed(graph: onnx.GraphProto, output: str, producers: dict[str, int]) -> set[int]:
    """Indices of the nodes ``output`` depends on."""
    seen: set[int] = set()
    todo = [output]
    while todo:
        index = producers.get(todo.pop())
        if index is None or index in seen:
            continue
        seen.add(index)
        todo.extend(graph.node[index].input)
    return seen


def has_switch(graph: onnx.GraphProto) -> bool:
    return any(i.name == EMBEDDING_SWITCH for i in graph.input)


def embedding_on_request(graph: onnx.GraphProto, scores: str, embedding: str) -> bool:
    """Rewrite ``graph`` in place; False if it was left as it is (it has the switch already, or
    the embedding is a by-product of the scores, so there is nothing to spare)."""
    if has_switch(graph):
        return False
    producers = _producers(graph)
    only_embedding = _needed(graph, embedding, producers) - _needed(graph, scores, producers)
    if not only_embedding:
        return False
    declared = next(o for o in graph.output if o.name == embedding)
    size = declared.type.tensor_type.shape.dim[1].dim_value
    branch_nodes = [graph.node[i] for i in sorted(only_embedding)]  # the graph's order is topological
    inside = {out for node in branch_nodes for out in node.output}
    kept = [node for i, node in enumerate(graph.node) if i not in only_embedding]
    used_outside = {name for node in kept for name in node.input}
    # The branch's own weights go inside it: ONNX Runtime folds batch norms into convolutions only
    # where the weights are the subgraph's own (with them outside, the branch ran 60 % slower).
    own = [t for t in graph.initializer if t.name not in used_outside
           and any(t.name in node.input for node in branch_nodes)]
    computed = helper.make_graph(branch_nodes, "embedding_computed", [], [declared], initializer=own,
                                 value_info=[v for v in graph.value_info if v.name in inside])
    empty = helper.make_tensor_value_info(embedding, TensorProto.FLOAT, [0, size])
    skipped = helper.make_graph(
        [helper.make_node("Constant", [], [embedding],
                          value=helper.make_tensor("empty_embedding", TensorProto.FLOAT, [0, size], []))],
        "embedding_skipped", [], [empty])
    switch = helper.make_node("If", [EMBEDDING_SWITCH], [embedding], name="embedding_on_request",
                              then_branch=computed, else_branch=skipped)
    del graph.node[:]
    graph.node.extend(kept + [switch])
    moved = {t.name for t in own}
    weights = [t for t in graph.initializer if t.name not in moved]
    del graph.initializer[:]
    graph.initializer.extend(weights)
    outside = [v for v in graph.value_info if v.name not in inside]
    del graph.value_info[:]
    graph.value_info.extend(outside)
    # An input with an initializer is optional: callers that feed only the window get the embedding.
    graph.input.append(helper.make_tensor_value_info(EMBEDDING_SWITCH, TensorProto.BOOL, []))
    graph.initializer.append(helper.make_tensor(EMBEDDING_SWITCH, TensorProto.BOOL, [], [True]))
    return True


def rewrite_file(model: Path, out: Path) -> bool:
    """Give ``model``'s file the switch, written to ``out``; False if there was nothing to change.

    Checks before it writes that both outputs are exactly what the original file computes.
    """
    original = ModelRunner(model)
    if original.embedding_size is None:
        raise ModelError(f"{model}: the model has no '{EMBEDDING_OUTPUT}' output")
    proto = onnx.load(str(model))
    if not embedding_on_request(proto.graph, proto.graph.output[0].name, EMBEDDING_OUTPUT):
        return False
    onnx.checker.check_model(proto)
    windows = np.random.default_rng(0).normal(-4.0, 2.0, (4, *original.metadata.features.input_shape[1:])).astype(np.float32)
    expected = original.predict_with_embedding(windows)
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / "ondemand.onnx"
        onnx.save(proto, str(trial))
        rewritten = ModelRunner(trial)
        for old, new in zip(expected, rewritten.predict_with_embedding(windows)):
            if not np.array_equal(old, new):
                raise ModelError(f"{model}: the rewritten graph computes different outputs (a bug: please report it)")
        if not np.array_equal(expected[0], rewritten.predict(windows)):
            raise ModelError(f"{model}: the rewritten graph's scores without the embedding differ (a bug: please report it)")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(trial, out)  # the temporary directory may be on another file system
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename and str(exc.filename) != str(out) else ""
            raise UserError(f"cannot write {out}: {where}{exc.strerror} (pass --out with a writable path)") from None
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m monitor.train.ondemand", description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path)
    p.add_argument("--out", type=Path, help="where to write (default: replace MODEL)")
    args = p.parse_args(argv)
    out = args.out or args.model
    try:
        changed = rewrite_file(args.model, out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}: embedding computed on request, outputs unchanged" if changed
          else f"{args.model}: nothing to change (the embedding is on request already, or comes with the scores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
