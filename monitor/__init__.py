"""sound-monitor: a real-time sound-event monitor for home security.

Data flows audio sources -> ring buffer -> windows -> log-mel features -> ONNX model
-> predictions -> rules -> alerts -> sinks (MQTT, journal, TUI).
"""

__version__ = "0.1.0"
