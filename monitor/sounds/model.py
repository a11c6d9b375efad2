"""The model with its learnt sounds: the built-in labels followed by one label per learnt sound.

Takes a :class:`~monitor.model.runner.ModelRunner` and :class:`~monitor.sounds.store.LearntSound`
records; gives an object the pipeline, rules and sinks use exactly like the runner:
``labels`` and ``metadata`` (labels and thresholds) include the learnt sounds, and
``predict`` appends each learnt sound's score, computed from the same inference's embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from monitor.model.metadata import ModelMetadata
from monitor.model.runner import ModelRunner
from monitor.sounds.store import LearntSound, LoadedSounds, load_sounds


class SoundModel:
    def __init__(self, runner: ModelRunner, sounds: Sequence[LearntSound] = ()) -> None:
        self.runner = runner
        self.path = runner.path
        self.embedding_size = runner.embedding_size
        self.sounds: tuple[LearntSound, ...] = ()
        self.set_sounds(sounds)

    def set_sounds(self, sounds: Sequence[LearntSound]) -> None:
        """Replace the learnt sounds (call from the thread that runs predictions)."""
        sounds = tuple(sounds)
        # Learnt sounds are refused at load unless they match the embedding, so this is a programming error.
        assert not sounds or self.embedding_size == len(sounds[0].weights)
        base = self.runner.metadata
        self.metadata: ModelMetadata = replace(
            base, labels=base.labels + tuple(s.name for s in sounds),
            thresholds={**base.thresholds, **{s.name: s.threshold for s in sounds}},
        )
        self._weights = np.stack([s.weights for s in sounds], axis=1) if sounds else None
        self._bias = np.array([s.bias for s in sounds], np.float32)
        self.sounds = sounds

    @property
    def labels(self) -> tuple[str, ...]:
        return self.metadata.labels

    @property
    def builtin_labels(self) -> tuple[str, ...]:
        return self.runner.labels

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Scores (batch, labels): the model's, then one column per learnt sound."""
        if self._weights is None:
            return self.runner.predict(windows)  # no learnt sound: the embedding is not computed
        return self.predict_with_embedding(windows)[0]

    def predict_with_embedding(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        scores, embeddings = self.runner.predict_with_embedding(windows)
        if self._weights is None or embeddings is None:
            return scores, embeddings
        # All learnt sounds in one matrix product: the cost per window stays a few microseconds.
        norms = np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
        learnt = 1.0 / (1.0 + np.exp(-((embeddings / norms) @ self._weights + self._bias)))
        return np.concatenate([scores, learnt.astype(scores.dtype)], axis=1), embeddings


def open_model(model_path: Path, sounds_dir: Path, threads: int = 1) -> tuple[SoundModel, LoadedSounds]:
    """The model with every usable sound of ``sounds_dir``, and what was loaded or left out (and why)."""
    runner = ModelRunner(model_path, threads)
    loaded = read_sounds(runner, sounds_dir)
    return SoundModel(runner, loaded.sounds), loaded


def read_sounds(runner: ModelRunner, sounds_dir: Path) -> LoadedSounds:
    return load_sounds(sounds_dir, runner.metadata.model_id, runner.embedding_size, runner.labels)
