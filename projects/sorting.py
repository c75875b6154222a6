"""Sorting a list by a key from a URL (`?sort=key` or `?sort=-key`): one parser, one whitelist,
one tie-break. The project list, the portfolio scoreboard and the API's `?ordering=` use it."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.db.models import Expression, F, OrderBy

ID_TERMS = ("id", "pk")


@dataclass(frozen=True)
class Sort:
    """A sort key of a list and its direction."""

    key: str
    descending: bool = False

    @property
    def param(self) -> str:
        """The sort as written in the URL: `score` or `-score`."""
        return f"-{self.key}" if self.descending else self.key

    @property
    def reversed(self) -> "Sort":
        return Sort(self.key, not self.descending)

    def ordering(self, columns: Sequence[str | Expression], *, nulls_last: bool = False) -> list[OrderBy]:
        """`columns` (field names or expressions) in this sort's direction."""
        terms = []
        for column in columns:
            expression = F(column) if isinstance(column, str) else column
            if self.descending:
                terms.append(expression.desc(nulls_last=nulls_last or None))
            else:
                terms.append(expression.asc(nulls_last=nulls_last or None))
        return terms


def parse_sort(value: str | None, *, allowed: Collection[str], default: str) -> Sort:
    """The sort a URL asks for; an empty or unknown key (not in `allowed`) gives `default`."""
    text = (value or "").strip()
    key = text.removeprefix("-")
    if key not in allowed:
        text = default
        key = default.removeprefix("-")
    return Sort(key, text.startswith("-"))


def with_id_tie_break(ordering: Sequence, *, descending: bool = False) -> list:
    """`ordering` ending with the id unless it already orders by it, so that rows that tie keep
    one order from page to page (a paginated list never shows a row twice or skips one)."""
    ordering = list(ordering)
    if not any(isinstance(term, str) and term.lstrip("-") in ID_TERMS for term in ordering):
        ordering.append("-id" if descending else "id")
    return ordering


def next_sort(column: str, current: Sort, *, descending_first: bool = False) -> Sort:
    """What a click on a column header sorts by: the current column reversed, another column in its
    first direction (numbers largest first when `descending_first`)."""
    if column == current.key:
        return current.reversed
    return Sort(column, descending_first)
