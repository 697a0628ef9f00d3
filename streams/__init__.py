"""newsstream: news ingestion stream processor."""
