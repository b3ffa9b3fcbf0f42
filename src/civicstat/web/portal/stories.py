"""Stories and the data policy: Markdown from the workspace, rendered by a real parser and
sanitised, with live measures embedded by id.

``/portal/stories`` lists the stories, newest first; ``/portal/stories/{story_id}`` shows
one, its embeds resolved after sanitising (a measure that may not be published reads "not
available"); ``/portal/policy`` is the data policy page. Each reads what was applied, not
the files on disk; a missing story, a policy not set or a portal switched off answers 404
like any missing page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from civicstat.services.errors import NotFound
from civicstat.services.stories import data_policy, stories, story
from civicstat.web.deps import Ctx
from civicstat.web.portal._fragments import Resolver, cached
from civicstat.web.portal._layout import render_portal
from civicstat.web.portal.markdown import render_markdown

router = APIRouter(include_in_schema=False)


def _missing() -> HTTPException:
    """The answer of a page that is not there: the same as an address nothing serves."""
    return HTTPException(status_code=404)


@router.get("/stories")
def story_list(request: Request, ctx: Ctx) -> Response:
    try:
        listed = stories(ctx)
    except NotFound:
        raise _missing() from None
    page = render_portal(
        request, ctx, "portal/stories.html", {"title": "Stories", "stories": listed}
    )
    return cached(page)


@router.get("/stories/{story_id}")
def story_page(story_id: str, request: Request, ctx: Ctx) -> Response:
    try:
        found = story(ctx, story_id)
    except NotFound:
        raise _missing() from None
    body = render_markdown(found.body, Resolver(ctx))
    context = {"title": found.title, "story": found, "body": body}
    page = render_portal(request, ctx, "portal/story.html", context)
    return cached(page)


@router.get("/policy")
def policy_page(request: Request, ctx: Ctx) -> Response:
    try:
        policy = data_policy(ctx)
    except NotFound:
        raise _missing() from None
    body = render_markdown(policy.text)
    page = render_portal(request, ctx, "portal/policy.html", {"title": "Data policy", "body": body})
    return cached(page)
