"""Page-number parsing and a small page object the ``pager`` macro renders."""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

MAX_PAGE = 100_000


def page_arg(raw: str | None) -> int:
    """A page number from the query string; anything odd (``-1``, ``abc``, ``1e309``) is page 1."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        return 1
    return max(1, min(int(raw), MAX_PAGE))


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
        last = self.pages
        wanted = {1, last, *range(self.page - around, self.page + around + 1)}
        out: list[int | None] = []
        prev = 0
        for p in sorted(n for n in wanted if 1 <= n <= last):
            if p - prev > 1:
                out.append(None)
            out.append(p)
            prev = p
        return out
