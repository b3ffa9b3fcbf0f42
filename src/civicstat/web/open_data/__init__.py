"""The open data API at the site root, as the field's own clients expect it: SODA
(``/resource``), DCAT-US (``/data.json``), CKAN (``/api/3/action``), Data Packages and
whole-dataset downloads. Anonymous; public data only (``actors.PUBLIC``).
"""

from __future__ import annotations

from fastapi import APIRouter

from civicstat.web.open_data import downloads, feeds, soda

router = APIRouter()
router.include_router(downloads.router)
router.include_router(feeds.router)
router.include_router(soda.router)
