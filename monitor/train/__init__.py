"""Training the sound-monitor model: data loading, feature cache, augmentation, CNN, export.

Only :mod:`monitor.train.dataset`, :mod:`monitor.train.labelmap`, :mod:`monitor.train.cache`
and :mod:`monitor.train.augment` are numpy-only; the network, trainer and exporter import
PyTorch/ONNX and are loaded only by ``sound-monitor train``.
"""
