"""The transparency portal under ``/portal``: what anyone may see, with no sign-in.

Every page reads as ``actors.PUBLIC``: public datasets, publishable measures, small cells
suppressed; anything else answers 404 exactly like a missing page.
"""

from __future__ import annotations

from fastapi import APIRouter

from civicstat.web.portal import embeds, pages, stories

PREFIX = "/portal"

# The prefix is given here, not where the app includes this router: FastAPI refuses an
# empty path under an empty prefix, and the portal's home is the route "" (/portal).
router = APIRouter()
router.include_router(embeds.router, prefix=PREFIX)
router.include_router(stories.router, prefix=PREFIX)
router.include_router(pages.router, prefix=PREFIX)
