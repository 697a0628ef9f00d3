"""Enrichers: pure functions of an article (no faust/aiokafka imports)."""
