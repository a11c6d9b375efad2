"""Training the sound-monitor model: data loading, feature cache, augmentation, CNN, export.

Only :mod:`monitor.train.dataset`, :mod:`monitor.train.labelmap`, :mod:`monitor.train.cache`
and :mod:`monitor.train.augment` are numpy-only; the network, trainer and exporter import
PyTorch/ONNX and are loaded only by ``sound-monitor train``.
"""

from pathlib import Path

# Where `train` and `evaluate` cache clip features: outside any checkout. Defined here, not
# in cache.py, so the CLI can show it in --help without importing audio decoding.
DEFAULT_CACHE = Path.home() / ".cache" / "sound-monitor" / "features"
