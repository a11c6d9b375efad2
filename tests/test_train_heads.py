"""A head can score about a second at a time: a window's logit is then a sharpness-weighted mean of
its segments' logits, from the plain mean (sharpness 0) to the loudest segment (large sharpness).
Several fine-tuned members (e.g. a window-mean head and a one-second head) are scored together as
the mean of their probabilities."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from monitor.train.model import Ensemble, SoundTagger  # noqa: E402

N_LABELS = 3


def tagger(segment_steps: int) -> SoundTagger:
    torch.manual_seed(0)
    return SoundTagger(N_LABELS, segment_steps=segment_steps).eval()


def segment_logits(model: SoundTagger, x: torch.Tensor) -> torch.Tensor:
    """(batch, segments, labels), computed here the plain way: each segment's mean through the head."""
    steps = model.net.features(x).mean(dim=2)
    k = model.segment_steps
    segments = torch.stack([steps[:, :, i : i + k].mean(dim=2) for i in range(steps.shape[2] - k + 1)], dim=1)
    return model.head(segments)


def set_sharpness(model: SoundTagger, value: float) -> None:
    """softplus(raw) = value (softplus(x) is x from about 20 on)."""
    raw = -60.0 if value == 0 else value if value > 20 else float(torch.log(torch.expm1(torch.tensor(value))))
    with torch.no_grad():
        model.sharpness.fill_(raw)


def test_a_5_second_window_is_scored_in_overlapping_segments_of_about_a_second():
    model = tagger(3)
    x = torch.randn(1, 1, 128, 501)
    assert segment_logits(model, x).shape == (1, 16 - 3 + 1, N_LABELS)  # 16 trunk steps of 0.32 s


@pytest.mark.parametrize(("sharpness", "pool"), [(0.0, lambda z: z.mean(dim=1)), (1e5, lambda z: z.max(dim=1).values)])
def test_sharpness_runs_from_the_segments_mean_to_their_maximum(sharpness, pool):
    model = tagger(3)
    set_sharpness(model, sharpness)
    x = torch.randn(2, 1, 128, 501)
    with torch.no_grad():
        logits, _ = model(x)
        expected = pool(segment_logits(model, x))
    assert torch.allclose(logits, expected, atol=1e-4)


def test_the_pooled_logit_lies_between_the_segments_mean_and_maximum():
    model = tagger(3)
    x = torch.randn(4, 1, 128, 501)
    with torch.no_grad():
        logits, _ = model(x)
        z = segment_logits(model, x)
    assert torch.all(logits >= z.mean(dim=1) - 1e-5) and torch.all(logits <= z.max(dim=1).values + 1e-5)


def test_the_embedding_is_the_whole_windows_mean_whatever_the_head():
    x = torch.randn(2, 1, 128, 501)
    with torch.no_grad():
        _, segmented = tagger(3)(x)
        _, whole = tagger(0)(x)
    assert torch.allclose(segmented, whole)


def test_a_window_shorter_than_a_segment_is_one_segment():
    model = tagger(3)
    with torch.no_grad():
        logits, _ = model(torch.randn(1, 1, 128, 40))  # 2 trunk steps
    assert logits.shape == (1, N_LABELS)


def test_the_sharpness_is_trained_with_the_head():
    model = tagger(3)
    assert any(p is model.sharpness for p in model.head_parameters())
    assert tagger(0).sharpness is None


def test_an_ensembles_probability_is_the_mean_of_its_members():
    members = [tagger(0), tagger(3)]
    x = torch.randn(3, 1, 128, 501)
    with torch.no_grad():
        logits, embedding = Ensemble(members)(x)
        each = [m(x) for m in members]
    expected = (torch.sigmoid(each[0][0]) + torch.sigmoid(each[1][0])) / 2
    assert torch.allclose(torch.sigmoid(logits), expected, atol=1e-5)
    assert torch.equal(embedding, each[0][1])
