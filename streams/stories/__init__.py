"""Stories: near-duplicate detection and same-event clustering of enriched articles.

Pure Python (no faust, no Kafka): :mod:`streams.stories.cluster` holds the clustering and its
state model; the worker's ``stories`` agent (:mod:`streams.app.stories`) keeps that state in
changelog-backed Faust tables.
"""
