"""``with`` support shared by everything that holds files, connections or processes."""

from __future__ import annotations

from typing import Self


class Resource:
    """Holds files, connections or processes until ``close()`` releases them.

    ``with resource:`` calls ``open()`` on entry and ``close()`` on exit, also when the block
    raised (the exception is never swallowed). Subclasses define ``close`` and, when they
    acquire on entry rather than in their constructor, ``open``.
    """

    def open(self) -> None:
        """Acquire what ``close`` releases; called by ``__enter__``. Does nothing by default."""

    def close(self) -> None:
        """Release everything; called by ``__exit__``."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
