"""The ``quotes-rules`` enricher: the pipeline's entry to quote attribution.

Called by the worker's enrichment pipeline once per document, after the sentence splitter and
the entity recogniser (and ``entity-links`` when it runs).
"""

from __future__ import annotations

from typing import Final

from streams.enrich.base import Document, Enricher
from streams.enrich.quotes.frames import Article

RULES_VERSION: Final = "9"


class QuoteExtractor(Enricher):
    """Fills ``Document.quotes``: every direct quote, with its speaker when the text names one.

    Needs ``Document.sentences`` and ``Document.entities`` (run after the splitter and the
    entity recogniser); without entities every speaker is None. Offsets index the body and
    exclude the quote marks; ``text == body[start:end]`` always holds. Scare quotes (quoted
    terms with no reporting frame) are left out. Cheap: a few passes over each paragraph.
    """

    name = "quotes-rules"
    version = RULES_VERSION

    def enrich(self, doc: Document) -> Document:
        return Article(doc).quotes()
