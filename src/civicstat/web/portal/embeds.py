"""Embeddable measures: a card to frame on a city's site, an SVG badge, and oEmbed discovery."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
