"""Training data loading: label maps, manifests, folders, and a clear report of what was skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from made_clips import write_dataset, write_label_map
from monitor.errors import UserError
from monitor.features.params import FeatureParams
from monitor.train.cache import FeatureCache
from monitor.train.dataset import load_dataset, skip_report
from monitor.train.labelmap import DEFAULT_LABEL_MAP, identity_map, load_label_map

HOMESOUNDS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "homesounds"
REQUIRED = ("glass_breaking", "speech", "scream_or_shout", "footsteps", "door_knock", "door", "dog_bark",
            "baby_cry", "smoke_alarm", "siren", "gunshot", "cough_sneeze_laugh", "silence")


def test_default_map_has_the_required_labels_and_background_classes():
    m = load_label_map(None)
    assert set(REQUIRED) <= set(m.model_labels)
    assert m.silence == "silence"
    assert m.background and set(m.background) <= set(m.model_labels)


@pytest.mark.skipif(not HOMESOUNDS.is_dir(), reason="shared homesounds dataset not present")
def test_default_map_places_every_homesounds_label():
    dataset = load_dataset(HOMESOUNDS, load_label_map(DEFAULT_LABEL_MAP))
    assert dataset.skipped == []
    assert set(dataset.labels) == set(load_label_map(None).model_labels)


def test_bad_rows_are_skipped_with_their_reason(tmp_path):
    root = write_dataset(tmp_path / "data", extra_rows=[
        ("low/gone.wav", "low", 1, "g"),
        ("low/low0.wav", "meow", 1, "m"),
        ("low/low1.wav", "", 1, "e"),
    ])
    (root / "high" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with (root / "manifest.csv").open("a") as f:
        f.write("high/broken.wav,high,2,b\n")
    lm = load_label_map(write_label_map(tmp_path / "map.yaml"))
    dataset = load_dataset(root, lm)
    reasons = {s.what.split("/")[-1]: s.reason for s in dataset.skipped}
    assert reasons["gone.wav"] == "missing file"
    assert "unknown label 'meow'" in reasons["low0.wav"]
    assert any(s.reason == "empty label" for s in dataset.skipped)
    # Corrupt audio is found when features are computed.
    cache = FeatureCache(tmp_path / "cache", FeatureParams())
    feats, corrupt = cache.load_all(dataset.clips, progress=False)
    assert [Path(s.what).name for s in corrupt] == ["broken.wav"]
    assert corrupt[0].reason.startswith("corrupt audio")
    assert len(feats) == 18
    report = skip_report(dataset.skipped + corrupt)
    assert "missing file" in report and "corrupt audio" in report and "gone.wav" in report


def test_nothing_usable_stops_with_the_report(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "manifest.csv").write_text("path,label,fold\nnope.wav,low,1\nalso.wav,,2\n")
    with pytest.raises(UserError) as err:
        load_dataset(root, identity_map())
    message = str(err.value)
    assert "no usable training data" in message and "missing file" in message and "empty label" in message


def test_label_folders_with_an_empty_label(tmp_path):
    root = write_dataset(tmp_path / "data")
    (root / "manifest.csv").unlink()
    (root / "quiet").mkdir()
    dataset = load_dataset(root, identity_map())
    assert dataset.labels == ("high", "hiss", "low", "silence")
    assert any(s.what == "quiet/" and s.reason.startswith("empty label") for s in dataset.skipped)
    assert {c.fold for c in dataset.clips} <= {1, 2, 3, 4, 5}


def test_a_mapped_label_without_clips_is_reported_and_left_out(tmp_path):
    root = write_dataset(tmp_path / "data", labels=("low", "high"))
    lm = load_label_map(write_label_map(tmp_path / "map.yaml", labels=("low", "high", "hiss"), background=()))
    dataset = load_dataset(root, lm)
    assert "hiss" not in dataset.labels
    assert any("hiss" in s.what and "empty label" in s.reason for s in dataset.skipped)


@pytest.mark.parametrize("text, complaint", [
    ("labels: {a: [x], b: [x]}\n", "mapped twice"),
    ("labels: {a: []}\n", "at least one source label"),
    ("labels: {a: [x]}\nbackground: [zzz]\n", "'background' must list model labels"),
    ("labels: {a: [x]}\ncolour: red\n", "unknown keys colour"),
    ("labels: [1, 2\n", "not valid YAML"),
    ("just text\n", "needs a 'labels:' mapping"),
])
def test_bad_label_maps_say_what_is_wrong(tmp_path, text, complaint):
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=complaint):
        load_label_map(path)
