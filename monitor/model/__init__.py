"""The ONNX model: its self-describing metadata and the inference runner."""
