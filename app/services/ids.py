"""Numbers that arrive as text (row ids in forms and query strings), parsed strictly.

``str.isdigit()`` is true for "²" and "①", which ``int()`` refuses, and a row id beyond
PostgreSQL's ``integer`` makes the database refuse the query: both were a 500 where the
answer is "no such thing".  Parse them here instead."""
from __future__ import annotations

#: The largest value of a PostgreSQL ``integer`` column: no row has a larger id.
MAX_ID = 2**31 - 1


def is_number(raw: str) -> bool:
    """ASCII digits only (``int()`` accepts every one of them)."""
    return raw.isascii() and raw.isdigit()


def parse_id(raw) -> int | None:
    """A row id (or another positive number kept in an ``integer`` column) from text;
    None when it is not one: empty, not ASCII digits, 0, or beyond :data:`MAX_ID`."""
    text = str(raw if raw is not None else "").strip()
    if not is_number(text) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
