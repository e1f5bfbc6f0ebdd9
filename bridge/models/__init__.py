"""Models: ONNX loading with vjbridge metadata, causal context, the streaming model runner."""
