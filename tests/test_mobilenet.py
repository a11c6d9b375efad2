"""Our MobileNetV3 is the pretrained mn04_as network: it has the checkpoint's tensors, loads it
strictly, hears what AudioSet taught it, exports to ONNX, and a wrong checkpoint is a one-line
error naming the problem."""

from __future__ import annotations

import ast
import csv
import math
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import UserError

torch = pytest.importorskip("torch")

from efficientat_reference import efficientat_logmel, read_clip  # noqa: E402
from monitor.train.mobilenet import MobileNetV3, load_pretrained  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PRETRAINED = SHARED / "pretrained"
CHECKPOINT = PRETRAINED / "mn04_as_mAP_432.pt"
DATA = SHARED / "datasets" / "homesounds"
needs_checkpoint = pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"pretrained checkpoint not found at {CHECKPOINT}")
needs_data = pytest.mark.skipif(not (DATA / "manifest.csv").is_file(), reason=f"shared clips not found at {DATA}")

# Our label -> the AudioSet classes that count as "heard it" (indices in audioset_class_labels_indices.csv).
EXPECTED = {
    "glass_breaking": {441, 443, 469, 470},  # Glass, Shatter, Smash/crash, Breaking
    "speech": {0},
    "dog_bark": {74, 75},  # Dog, Bark
    "smoke_alarm_or_beeping_alarm": {388, 399, 400, 481},  # Alarm, Smoke detector, Fire alarm, Beep/bleep
}
CLIPS_PER_LABEL = 3


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: these forwards are small, and on a busy 2-core machine two OpenMP threads
    waiting on each other made this file 20 times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pretrained() -> MobileNetV3:
    model = MobileNetV3()
    load_pretrained(model, CHECKPOINT)
    return model.eval()


@pytest.mark.skipif(not (PRETRAINED / "mn04_as_parameters.txt").is_file(), reason=f"tensor list not found in {PRETRAINED}")
def test_our_state_dict_lists_the_checkpoints_tensors_in_order_with_their_shapes_and_dtypes():
    lines = (PRETRAINED / "mn04_as_parameters.txt").read_text().splitlines()
    listed = [(name, ast.literal_eval(shape), dtype)
              for name, shape, dtype in (line.split("\t") for line in lines if not line.startswith("#"))]
    ours = [(name, tuple(t.shape), str(t.dtype).removeprefix("torch.")) for name, t in MobileNetV3().state_dict().items()]
    assert ours == listed


@needs_checkpoint
def test_the_checkpoint_loads_strictly_into_our_network():
    model = MobileNetV3()
    result = model.load_state_dict(torch.load(CHECKPOINT, map_location="cpu", weights_only=True), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert sum(p.numel() for p in model.parameters()) == 983_599  # the README's parameter count


def test_every_batch_norm_has_eps_0_001_and_momentum_0_01():
    norms = [m for m in MobileNetV3().modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 46  # stem, 2 or 3 per block (15 blocks, 14 with an expansion), features.16
    assert all(m.eps == 0.001 and m.momentum == 0.01 for m in norms)


def test_any_length_gives_527_logits_and_the_384_value_average_of_the_last_feature_map():
    model = MobileNetV3().eval()
    seen: list[torch.Tensor] = []
    model.features[16].register_forward_hook(lambda _m, _i, out: seen.append(out))
    for frames in (1, 64, 101):
        x = torch.randn(1, 1, 128, frames)
        with torch.no_grad():
            logits, embedding = model(x)
            feature_map = model.feature_map(x)
        assert feature_map.shape == (1, 384, 4, math.ceil(frames / 32))
        assert logits.shape == (1, 527) and embedding.shape == (1, 384)
        torch.testing.assert_close(embedding, seen[0].mean(dim=(2, 3)))
        torch.testing.assert_close(embedding, model.embed(x))
        torch.testing.assert_close(logits, model.classify(embedding))
        seen.clear()


def spread(rows: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    """n rows evenly spaced through the list: different sources, not the first few files of one."""
    return [rows[i * len(rows) // n] for i in range(n)]


@needs_checkpoint
@needs_data
def test_with_the_audioset_head_shared_clips_get_their_audioset_class_in_the_top_5(pretrained):
    rows = list(csv.DictReader((DATA / "manifest.csv").open()))
    misses = []
    for label, classes in EXPECTED.items():
        clips = spread([r for r in rows if r["label"] == label], CLIPS_PER_LABEL)
        assert len(clips) == CLIPS_PER_LABEL, f"the manifest has no {label!r} clips"
        hits = 0
        for row in clips:
            x = torch.from_numpy(efficientat_logmel(read_clip(DATA / row["path"])))[None, None]
            with torch.no_grad():
                logits, _ = pretrained(x)
            top5 = set(torch.topk(logits[0], 5).indices.tolist())
            hits += bool(classes & top5)
            if not classes & top5:
                misses.append(f"{row['path']}: top 5 {sorted(top5)}")
        assert hits >= CLIPS_PER_LABEL - 1, f"{label}: {hits} of {CLIPS_PER_LABEL} clips heard; misses {misses}"


def test_the_network_exports_to_onnx_and_onnx_runtime_agrees(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = MobileNetV3().eval()
    x = torch.randn(1, 1, 128, 501)
    path = tmp_path / "net.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17, input_names=["logmel"],
                      output_names=["logits", "embedding"])
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"logmel": x.numpy()})
    with torch.no_grad():
        want = model(x)
    for name, a, b in zip(("logits", "embedding"), got, want):
        assert a.shape == tuple(b.shape)
        assert np.abs(a - b.numpy()).max() < 1e-4, name


def saved(tmp_path: Path, obj: object) -> Path:
    path = tmp_path / "ckpt.pt"
    torch.save(obj, path)
    return path


def written(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "x.pt"
    path.write_bytes(data)
    return path


def without(state: dict, key: str) -> dict:
    return {k: v for k, v in state.items() if k != key}


STATE = MobileNetV3().state_dict()
BAD_CHECKPOINTS = {
    "missing tensor": (lambda p: saved(p, without(STATE, "features.4.block.2.conc_se_layers.0.fc1.weight")),
                       r"missing tensor: features\.4\.block\.2\.conc_se_layers\.0\.fc1\.weight$"),
    "many missing": (lambda p: saved(p, {k: v for k, v in STATE.items() if not k.startswith("classifier")}),
                     r"missing 4 tensors: classifier\.2\.weight, classifier\.2\.bias, classifier\.5\.weight and 1 more$"),
    "unexpected tensor": (lambda p: saved(p, {**STATE, "extra.weight": torch.zeros(1)}),
                          r"unexpected tensor: extra\.weight$"),
    "misshaped tensor": (lambda p: saved(p, {**STATE, "classifier.5.weight": torch.zeros(10, 512)}),
                         r"misshaped tensor: classifier\.5\.weight \(expected \(527, 512\), got \(10, 512\)\)$"),
    "a list": (lambda p: saved(p, [torch.zeros(3)]), r"not a state dict of named tensors \(found list\)$"),
    "a training checkpoint": (lambda p: saved(p, {"model": STATE, "epoch": 3}),
                              r"not a state dict of named tensors \(entry 'model' is OrderedDict, not a tensor\)$"),
    "a pickled object": (lambda p: saved(p, {"a": Path("/etc/passwd")}),
                         r"not a state dict, it holds pickled Python objects \(pathlib\.\w*Path\) that are not loaded"),
    "a text file": (lambda p: written(p, b"hello"), r"not a PyTorch file, or a damaged one"),
    "an empty file": (lambda p: written(p, b""), r"not a PyTorch file, or a damaged one \(EOFError\)"),
    "a truncated file": (lambda p: written(p, saved(p, STATE).read_bytes()[:5000]),
                         r"not a PyTorch file, or a damaged one \(\w+Error: .+\)$"),
    "a missing file": (lambda p: p / "nope.pt", r"nope\.pt: no such file \(.*release v0\.0\.1 of github\.com/fschmid56/EfficientAT\)"),
    "a directory": (lambda p: p, r": not a file"),
}


@pytest.mark.parametrize("make, problem", BAD_CHECKPOINTS.values(), ids=BAD_CHECKPOINTS.keys())
def test_a_bad_checkpoint_is_a_one_line_error_naming_the_problem(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(UserError, match=problem) as caught:
        load_pretrained(MobileNetV3(), path)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)
    assert str(path) in str(caught.value)
