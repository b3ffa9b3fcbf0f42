"""The portal's pages for anyone: home, the one-page plan, goals, measures, the dataset catalog
and dataset pages.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
