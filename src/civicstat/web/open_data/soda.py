"""A SODA-compatible read API (Socrata's /resource and /api/views): SoQL parsed into a tree and
run through the governed row query.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
