"""Measures inside portal pages: a card (with a chart in a story, a sparkline in a frame)
and an inline value, rendered from autoescaped templates; and the answer headers every
portal page shares.

A measure that may not be published is "not available", never its number: the fragments
only ever see ``services.public_cards`` cards, whose numbers passed suppression.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.responses import Response
from markupsafe import Markup

from civicstat.services import public_cards
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.public_cards import PublicCard
from civicstat.services.trends import TrendPoint
from civicstat.spec.stories import Embed
from civicstat.web import figures
from civicstat.web.templating import templates

CACHE = "public, max-age=300"


def trend_points(card: PublicCard) -> list[TrendPoint]:
    return [
        TrendPoint(
            period=p.period, start=p.start, value=p.value, target=p.target, partial=p.partial
        )
        for p in card.trend
    ]


def _macro(name: str, *args: Any) -> Markup:
    """A macro of portal/_embeds.html: autoescaped, so its output is Markup already."""
    out = getattr(templates.env.get_template("portal/_embeds.html").module, name)(*args)
    assert isinstance(out, Markup)
    return out


def card_html(card: PublicCard, *, chart_id: str, compact: bool) -> Markup:
    """A measure's card: a full chart in a story, a sparkline when ``compact`` (a frame)."""
    points = trend_points(card)
    if compact:
        chart = figures.trend_sparkline(points, card.unit)
    else:
        chart = figures.trend_chart(
            points,
            title=card.title,
            unit=card.unit,
            direction=str(card.direction or "higher_is_better"),
            warning_band=card.warning_band,
            chart_id=chart_id,
        )
    return _macro("card", card, chart, compact)


def value_html(card: PublicCard) -> Markup:
    return _macro("value", card)


def unavailable_html(block: bool) -> Markup:
    return _macro("unavailable", block)


class Resolver:
    """Renders a story's embeds, reading each measure's card once per page."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cards: dict[str, PublicCard | None] = {}
        self.count = 0

    def card(self, measure_id: str) -> PublicCard | None:
        if measure_id not in self.cards:
            try:
                self.cards[measure_id] = public_cards.card(self.ctx, measure_id)
            except NotFound:
                self.cards[measure_id] = None
        return self.cards[measure_id]

    def __call__(self, embed: Embed) -> Markup:
        found = self.card(embed.measure) if embed.problem is None else None
        if found is None:
            return unavailable_html(embed.block)
        if embed.block:
            self.count += 1
            return card_html(found, chart_id=f"embed-{self.count}-{found.measure}", compact=False)
        return value_html(found)


def cached(response: Response) -> Response:
    """``ETag`` from the answer's own bytes (they hold the plan and the data it shows) and
    ``Cache-Control`` for a public answer; the public side's middleware
    (``web.public_http``) answers a matching ``If-None-Match`` with 304."""
    digest = hashlib.sha256(bytes(response.body)).hexdigest()[:32]
    response.headers["ETag"] = f'"{digest}"'
    response.headers["Cache-Control"] = CACHE
    return response
