"""Server-rendered pages."""

from __future__ import annotations

from fastapi import APIRouter

from civicstat.web.pages import auth, plan

router = APIRouter()
router.include_router(auth.router)
router.include_router(plan.router)
