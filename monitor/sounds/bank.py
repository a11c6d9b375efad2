"""The background bank: embeddings of the ordinary sounds of a home (household, outdoor, music,
quiet rooms, and the model's own labels: speech, doors, footsteps, ...), stored inside the
model file, so ``learn`` has negatives even without ``--background``.

Takes a model file and the training data folder (manifest.csv); :func:`write_background_bank`
embeds a few hundred 5-s windows of training clips from every fold but the test fold
(half from the background labels, half spread evenly over the other labels) and stores them in the ONNX metadata (key ``background_embeddings``: base64 of
float16 rows, shape in ``background_embeddings_shape`` as JSON). :func:`read_background_bank`
gives them back, or None for a model without a bank. Writing needs the ``onnx``
package (training extra); reading uses only the runner's metadata map. The model_id
hashes the graph only, so adding the bank keeps it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from monitor.errors import ModelError, UserError
from monitor.model.runner import ModelRunner
from monitor.train.labelmap import LabelMap

BANK_KEY = "background_embeddings"
SHAPE_KEY = "background_embeddings_shape"
BANK_WINDOWS = 1200  # 1200 x 384 float16 = 922 KB, 1.2 MB as base64: about 50 windows per event label
TEST_FOLD = 4
BACKGROUND_LABELS = ("music_tv", "household", "outdoor_traffic_tools", "silence")
SEED = 12


def read_background_bank(runner: ModelRunner) -> np.ndarray | None:
    """The bank's embeddings (n, embedding_size) float32, or None if the model has none."""
    raw, shape_text = runner.props.get(BANK_KEY), runner.props.get(SHAPE_KEY)
    if raw is None or shape_text is None:
        return None
    try:
        shape = tuple(json.loads(shape_text))
        bank = np.frombuffer(base64.b64decode(raw, validate=True), np.float16).reshape(shape)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise ModelError(f"{runner.path}: metadata '{BANK_KEY}' is unreadable: rebuild it with "
                         "'sound-monitor learn --build-background-bank DATA --model FILE'") from None
    if bank.ndim != 2 or bank.shape[1] != runner.embedding_size or not np.all(np.isfinite(bank)):
        raise ModelError(f"{runner.path}: metadata '{BANK_KEY}' has shape {bank.shape}, not "
                         f"[n, {runner.embedding_size}]: rebuild it with 'sound-monitor learn --build-background-bank'")
    return bank.astype(np.float32)


def bank_windows(data_dir: Path, runner: ModelRunner, count: int = BANK_WINDOWS, seed: int = SEED,
                 exclude: tuple[str, ...] = (), label_map: LabelMap | None = None,
                 test_folds: frozenset[int] = frozenset({TEST_FOLD})) -> np.ndarray:
    """``count`` log-mel windows of background clips of the training data, test folds and the
    ``exclude`` source labels left out. ``label_map``: the one the model was trained with
    (default: the shipped map); its background labels and silence are the background."""
    from monitor.features.logmel import MelFrames, logmel
    from monitor.train.cache import read_mono
    from monitor.train.dataset import load_dataset
    from monitor.train.labelmap import load_label_map
    from monitor.train.roomtone import room_tone

    params = runner.metadata.features
    label_map = label_map or load_label_map(None)
    quiet_labels = (*label_map.background, label_map.silence) if label_map.background else BACKGROUND_LABELS
    dataset = load_dataset(data_dir, label_map)
    usable = [c for c in dataset.clips if c.fold not in test_folds and c.source_label not in exclude]
    background = [c for c in usable if c.label in quiet_labels]
    if not background:
        raise UserError(f"{data_dir}: no background clips ({', '.join(map(str, quiet_labels))}) outside folds {sorted(test_folds)}")
    events: dict[str, list] = {}
    for c in usable:
        if c.label not in quiet_labels:
            events.setdefault(c.label, []).append(c)
    rng = np.random.default_rng(seed)
    n_quiet = count // 10  # quiet rooms: the commonest background of all, which the data lacks
    n_events = count // 2 if events else 0
    n_background = count - n_quiet - n_events
    picks = [background[i] for i in rng.choice(len(background), n_background, replace=len(background) < n_background)]
    for k, label in enumerate(sorted(events)):  # the same share for every event label, rare or common
        share = n_events // len(events) + (k < n_events % len(events))
        mine = events[label]
        picks += [mine[i] for i in rng.choice(len(mine), share, replace=len(mine) < share)]
    need = params.window_samples
    frames = MelFrames(params)
    windows = []
    for clip in picks:
        audio = read_mono(clip.path, params.sample_rate)
        if len(audio) < need:
            audio = np.pad(audio, (0, need - len(audio))) + room_tone(rng, need, params.sample_rate)
        start = int(rng.integers(0, len(audio) - need + 1))
        windows.append(_window(logmel(audio[start : start + need].astype(np.float32), params, frames), params.n_frames))
    for _ in range(n_quiet):
        quiet = room_tone(rng, need, params.sample_rate).astype(np.float32)
        windows.append(_window(logmel(quiet, params, frames), params.n_frames))
    return np.stack(windows)


def _window(frames: np.ndarray, n_frames: int) -> np.ndarray:
    out = frames[:, :n_frames]
    return np.pad(out, ((0, 0), (0, n_frames - out.shape[1])), mode="edge") if out.shape[1] < n_frames else out


def write_background_bank(model_path: Path, data_dir: Path, exclude: tuple[str, ...] = (),
                          label_map: LabelMap | None = None, test_folds: frozenset[int] = frozenset({TEST_FOLD})) -> int:
    """Embed the background windows of ``data_dir`` with the model and store them in its file; gives
    the count. ``exclude``: source labels kept out (a measurement leaves out the class it learns);
    ``label_map`` / ``test_folds``: those of the training run (default: the shipped map, fold 4)."""
    import onnx

    runner = ModelRunner(model_path)
    if runner.embedding_size is None:
        raise UserError(f"{model_path}: the model has no 'embedding' output, so it cannot carry a background bank")
    windows = bank_windows(data_dir, runner, exclude=exclude, label_map=label_map, test_folds=test_folds)
    embeddings = np.concatenate([runner.predict_with_embedding(windows[i : i + 8])[1]  # type: ignore[misc]
                                 for i in range(0, len(windows), 8)])
    model = onnx.load(str(model_path))
    kept = [p for p in model.metadata_props if p.key not in (BANK_KEY, SHAPE_KEY)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in ((BANK_KEY, base64.b64encode(embeddings.astype(np.float16).tobytes()).decode("ascii")),
                       (SHAPE_KEY, json.dumps(list(embeddings.shape)))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    tmp = model_path.with_name(f".{model_path.name}.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(model_path)
    return len(embeddings)
