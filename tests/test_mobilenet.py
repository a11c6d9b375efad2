"""Our MobileNetV3 is the pretrained mn04_as network: it loads strictly, hears what AudioSet taught it,
exports to ONNX, and a wrong checkpoint is a one-line error naming the problem."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from monitor.errors import UserError

torch = pytest.importorskip("torch")

from monitor.features.logmel import logmel  # noqa: E402
from monitor.features.params import KALDI_LOG_32K  # noqa: E402
from monitor.train.cache import read_mono  # noqa: E402
from monitor.train.mobilenet import MobileNetV3, load_pretrained  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CHECKPOINT = SHARED / "pretrained" / "mn04_as_mAP_432.pt"
DATA = SHARED / "datasets" / "homesounds"
needs_checkpoint = pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"pretrained checkpoint not found at {CHECKPOINT}")
needs_data = pytest.mark.skipif(not (DATA / "manifest.csv").is_file(), reason=f"shared clips not found at {DATA}")

# Our label -> AudioSet classes that count as "heard it" (indices in audioset_class_labels_indices.csv).
EXPECTED = {
    "glass_breaking": {441, 443, 469, 470},  # Glass, Shatter, Smash/crash, Breaking
    "speech": {0},
    "dog_bark": {74, 75},
    "smoke_alarm_or_beeping_alarm": {388, 399, 400, 481},  # Alarm, Smoke detector, Fire alarm, Beep
}


@pytest.fixture(scope="module")
def pretrained() -> MobileNetV3:
    model = MobileNetV3()
    load_pretrained(model, CHECKPOINT)
    return model.eval()


@needs_checkpoint
def test_the_checkpoint_loads_strictly_into_our_network(pretrained):
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    assert pretrained.load_state_dict(state, strict=True)  # no missing or unexpected keys
    assert sum(p.numel() for p in pretrained.parameters()) == 983_599


@needs_checkpoint
@needs_data
def test_with_the_audioset_head_shared_clips_get_their_audioset_class_in_the_top_5(pretrained):
    rows = list(csv.DictReader((DATA / "manifest.csv").open()))
    hits, tried = 0, 0
    for label, classes in EXPECTED.items():
        for row in [r for r in rows if r["label"] == label][:4]:
            audio = read_mono(DATA / row["path"], 32000)[: KALDI_LOG_32K.window_samples]
            with torch.no_grad():
                logits, embedding = pretrained(torch.from_numpy(logmel(audio, KALDI_LOG_32K))[None, None])
            assert embedding.shape == (1, 384)
            tried += 1
            hits += bool(classes & set(torch.topk(logits[0], 5).indices.tolist()))
    assert hits >= 0.8 * tried, f"{hits} of {tried} clips had a matching AudioSet class in their top 5"


def test_the_network_exports_to_onnx_and_onnx_runtime_agrees(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = MobileNetV3().eval()
    x = torch.randn(2, 1, 128, 501)
    path = tmp_path / "net.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17, input_names=["logmel"],
                      output_names=["logits", "embedding"])
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"logmel": x.numpy()})
    with torch.no_grad():
        want = model(x)
    for a, b in zip(got, want):
        assert np.abs(a - b.numpy()).max() < 1e-4


def save(tmp_path: Path, obj: object) -> Path:
    path = tmp_path / "ckpt.pt"
    torch.save(obj, path)
    return path


def test_a_checkpoint_missing_a_tensor_names_it(tmp_path):
    state = MobileNetV3().state_dict()
    del state["features.4.block.2.conc_se_layers.0.fc1.weight"]
    with pytest.raises(UserError, match=r"missing tensor features\.4\.block\.2\.conc_se_layers\.0\.fc1\.weight"):
        load_pretrained(MobileNetV3(), save(tmp_path, state))


def test_a_misshaped_tensor_gives_its_expected_and_actual_shape(tmp_path):
    state = MobileNetV3().state_dict()
    state["classifier.5.weight"] = torch.zeros(10, 512)
    with pytest.raises(UserError, match=r"misshaped classifier\.5\.weight \(expected \(527, 512\), got \(10, 512\)\)"):
        load_pretrained(MobileNetV3(), save(tmp_path, state))


def test_an_unexpected_tensor_is_named(tmp_path):
    state = {**MobileNetV3().state_dict(), "extra.weight": torch.zeros(1)}
    with pytest.raises(UserError, match=r"unexpected tensor extra\.weight"):
        load_pretrained(MobileNetV3(), save(tmp_path, state))


def test_something_that_is_not_a_state_dict_is_refused(tmp_path):
    with pytest.raises(UserError, match="not a state dict of named tensors \\(found list\\)"):
        load_pretrained(MobileNetV3(), save(tmp_path, [torch.zeros(3)]))


def test_a_file_that_is_not_a_pytorch_file_is_refused(tmp_path):
    path = tmp_path / "x.pt"
    path.write_text("hello")
    with pytest.raises(UserError, match="not a PyTorch state dict"):
        load_pretrained(MobileNetV3(), path)


def test_a_pickled_object_is_not_unpickled(tmp_path):
    with pytest.raises(UserError, match="not a PyTorch state dict"):
        load_pretrained(MobileNetV3(), save(tmp_path, {"a": Path("/etc/passwd")}))


def test_a_missing_checkpoint_says_where_to_get_one(tmp_path):
    with pytest.raises(UserError, match="no such file.*release v0.0.1"):
        load_pretrained(MobileNetV3(), tmp_path / "nope.pt")
