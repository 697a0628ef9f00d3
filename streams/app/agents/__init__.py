"""The worker's agents, each with the tables and internal topics it owns.

``enrich`` (raw -> story input), ``stories`` (story input -> enriched, stories), ``dashboard``
(enriched -> recent articles, entity mentions) and ``entity-trends`` (mentions -> trending).
"""
