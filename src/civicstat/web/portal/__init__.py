"""The transparency portal under ``/portal``: what anyone may see, with no sign-in.

Every page reads as ``actors.PUBLIC``: public datasets, publishable measures, small cells
suppressed; anything else answers 404 exactly like a missing page.
"""

from __future__ import annotations

from fastapi import APIRouter

from civicstat.web.portal import embeds, pages, stories

router = APIRouter()
router.include_router(embeds.router)
router.include_router(stories.router)
router.include_router(pages.router)
