"""Mel-power compression as a model's front end declares it, and its inverse.

Takes mel power (any shape) and :class:`FeatureParams`; gives the model's input
values. ``db`` compression has a per-window step (the ``top_db`` floor relative to
the window's maximum), so frames are compressed without it and :func:`finish_window`
applies it once a window is assembled; ``log`` compression is pointwise and needs
none. Training mixes sounds in the power domain, so it also needs :func:`expand`.
"""

from __future__ import annotations

import numpy as np

from monitor.features.params import FeatureParams


def compress(mel: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Compressed features of mel power, without any per-window floor."""
    if params.compression == "db":
        return 10.0 * np.log10(np.maximum(mel, params.amin))
    return (np.log(mel + params.log_eps) + params.log_offset) * params.log_scale


def expand(features: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Mel power back from compressed features (float32; the inverse of :func:`compress`)."""
    x = features.astype(np.float32)
    if params.compression == "db":
        return np.power(np.float32(10.0), x / np.float32(10.0))
    return np.maximum(np.exp(x / np.float32(params.log_scale) - np.float32(params.log_offset)) - np.float32(params.log_eps), 0)


def finish_window(window: np.ndarray, params: FeatureParams) -> np.ndarray:
    """The per-window step: librosa.power_to_db's ``top_db`` floor for ``db``; nothing for ``log``."""
    if params.compression != "db" or params.top_db is None:
        return window
    return np.maximum(window, window.max() - params.top_db)


def power_to_features(mel: np.ndarray, params: FeatureParams) -> np.ndarray:
    """A whole window's model input from its mel power: compress, then the per-window step."""
    return finish_window(compress(mel, params), params).astype(np.float32)
