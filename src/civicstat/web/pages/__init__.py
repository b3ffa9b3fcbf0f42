"""Server-rendered pages."""

from __future__ import annotations

from fastapi import APIRouter

from civicstat.web.pages import (
    accountability,
    admin,
    audit,
    auth,
    catalog,
    departments,
    measures,
    overview,
    plan,
    runs,
)

router = APIRouter()
router.include_router(auth.router)
router.include_router(plan.router)
router.include_router(catalog.router)
router.include_router(overview.router)
router.include_router(departments.router)
router.include_router(measures.router)
router.include_router(runs.router)
router.include_router(audit.router)
router.include_router(accountability.router)
router.include_router(admin.router)
