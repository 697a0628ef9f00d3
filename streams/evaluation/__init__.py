"""Scoring the shipped models on labelled data (a library: ``newsstream eval`` is its front
door)."""
