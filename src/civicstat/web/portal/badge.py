"""A measure as a small SVG badge, for a README, a newsletter or a city's own page: its
title on the left, its latest value on a status colour on the right.

Drawn on the server as a string: every piece of text is XML-escaped (a hostile title
stays text), nothing is fetched, no script or style. White text on each status colour
has a contrast of at least 4.5:1 (WCAG AA); the status is also written out in the
badge's ``<title>`` and label, so colour is never the only sign.
"""

from __future__ import annotations

import unicodedata
from html import escape

from civicstat.services.public_cards import PublicCard
from civicstat.web.charts import format_value

__all__ = ["COLOURS", "TEXT", "badge_svg"]

# White on each has a contrast of 7:1 or more (see tests/portal/test_embeds.py).
COLOURS = {
    "on_target": "#116329",
    "near_target": "#7a4d00",
    "off_target": "#a4161a",
    "stale": "#3d4652",
    "no_data": "#3d4652",
}
LABEL = "#1b1f24"
TEXT = "#ffffff"
STATUS_WORDS = {
    "on_target": "on target",
    "near_target": "near target",
    "off_target": "off target",
    "stale": "stale data",
    "no_data": "no status",
}
MAX_TITLE = 48
_CHAR_WIDTH = 6.8  # average width of a character at 11px, generous so text never spills
_PAD = 8
_HEIGHT = 20


def badge_svg(card: PublicCard) -> str:
    """The badge of one published measure."""
    title = _plain(card.title, MAX_TITLE)
    value = _value(card)
    status = str(card.status)
    words = STATUS_WORDS.get(status, status.replace("_", " "))
    label = f"{card.title}: {value} ({words})"
    left = round(len(title) * _CHAR_WIDTH + 2 * _PAD)
    right = round(len(value) * _CHAR_WIDTH + 2 * _PAD)
    width = left + right
    colour = COLOURS.get(status, COLOURS["no_data"])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_HEIGHT}" '
        f'viewBox="0 0 {width} {_HEIGHT}" role="img" aria-label="{escape(_plain(label))}">'
        f"<title>{escape(_plain(label))}</title>"
        f'<rect width="{left}" height="{_HEIGHT}" fill="{LABEL}"/>'
        f'<rect x="{left}" width="{right}" height="{_HEIGHT}" fill="{colour}"/>'
        f'<g fill="{TEXT}" font-family="Verdana, DejaVu Sans, sans-serif" font-size="11">'
        f'<text x="{_PAD}" y="14">{escape(title)}</text>'
        f'<text x="{left + _PAD}" y="14">{escape(value)}</text>'
        "</g></svg>"
    )


def _value(card: PublicCard) -> str:
    latest = card.latest
    if latest is None:
        return "no data yet"
    if latest.suppressed or latest.value is None:
        return "withheld"
    return f"{format_value(latest.value, card.unit)} ({latest.period})"


def _plain(text: str, limit: int | None = None) -> str:
    """Text as one line without control characters (XML 1.0 refuses most of them),
    shortened to ``limit`` characters with an ellipsis."""
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    line = " ".join(kept.split())
    if limit is not None and len(line) > limit:
        return line[: limit - 1].rstrip() + "…"
    return line
