"""Stories: near-duplicate detection and same-event clustering of enriched articles.

Pure Python (no faust, no Kafka): :mod:`streams.stories.cluster` holds the clustering and its
state model, :mod:`streams.stories.minhash` the MinHash signatures and LSH bands it finds
near-duplicates with, :mod:`streams.stories.features` what it uses of an article, and
:mod:`streams.stories.events` the ``news.stories`` event of an assignment. The worker's
``stories`` agent (:mod:`streams.app.agents.stories`) keeps the state in changelog-backed Faust
tables.
"""
