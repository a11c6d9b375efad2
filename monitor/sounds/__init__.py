"""Learnt sounds: small classifiers on the model's embedding, taught with ``sound-monitor learn``."""
