"""Quote payload content in a message: bounded and escaped, never raw.

Run errors, quarantine reasons and check details are stored and shown on pages; a payload
is whatever the source (or an attacker who controls it) wrote. Every message that quotes
a value, a header or a line of a payload goes through here, so that it holds at most
``LIMIT`` characters of it, with control and invisible characters shown as escapes.
"""

from __future__ import annotations

from collections.abc import Iterable

LIMIT = 200  # characters of payload content one message may quote


def quoted(value: object, limit: int = LIMIT) -> str:
    """``value`` as a quoted literal (Python's ``repr`` of text, so ``\\n``, ``\\x00``,
    ``\\u202e`` appear as escapes), at most ``limit`` characters inside the quotes; a
    longer value is cut and ends with ``…``."""
    text = value if isinstance(value, str) else str(value)
    cut = text[:limit]
    while len(repr(cut)) - 2 > limit:
        over = len(repr(cut)) - 2 - limit
        cut = cut[: len(cut) - max(1, over // 4)]
    shown = repr(cut)
    return shown if len(cut) == len(text) else f"{shown[:-1]}…{shown[-1]}"


def excerpt(value: object, limit: int = LIMIT) -> str:
    """Like :func:`quoted`, without the quotes: for text that is itself the message
    (a database's or a server's own words)."""
    return quoted(value, limit)[1:-1]


def listing(items: Iterable[object], limit: int = LIMIT) -> str:
    """Comma-separated escaped items, as many as fit in ``limit`` characters; the rest
    are counted (``…and 40 more``)."""
    shown: list[str] = []
    used = 0
    rest = 0
    for item in items:
        text = excerpt(item, limit)
        if rest or (shown and used + len(text) + 2 > limit):
            rest += 1
            continue
        shown.append(text)
        used += len(text) + 2
    more = f", …and {rest} more" if rest else ""
    return ", ".join(shown) + more
