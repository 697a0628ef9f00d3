"""Entity identity: the name data, the keys names are compared by, and the per-article joins.

``keys`` (how two spellings are compared), ``sources`` (reading CLDR, GeoNames and
alias files into referent groups), ``table`` (the lookup tables built from them once) and
``article`` (joins inside one article: acronyms, short forms, transliterations). The enricher
that uses them is ``streams.enrich.entity_links``.
"""
