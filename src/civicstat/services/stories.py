"""The portal's stories and data policy, as last applied (never the files on disk).

Anyone may read them while the portal is enabled; otherwise, and for a story that does
not exist, the answer is ``NotFound``. Rendering the Markdown safely is the web's job.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.spec.models import DataPolicy, Story

__all__ = ["StoryListing", "data_policy", "stories", "story"]


class StoryListing(BaseModel):
    id: str
    title: str
    summary: str | None
    published: dt.date | None
    author: str | None


def stories(ctx: Context) -> list[StoryListing]:
    """Every story, newest first (undated ones last), then by title; NotFound when the
    portal is switched off."""
    plan = _portal(ctx)
    if plan is None:
        raise NotFound("the portal is not published")
    listed = [
        StoryListing(
            id=s.id, title=s.title, summary=s.summary, published=s.published, author=s.author
        )
        for s in plan.stories.values()
    ]
    listed.sort(key=lambda s: s.title.casefold())
    listed.sort(key=lambda s: s.published or dt.date.min, reverse=True)
    return listed


def story(ctx: Context, story_id: str) -> Story:
    plan = _portal(ctx)
    found = plan.stories.get(story_id) if plan is not None else None
    if found is None:
        raise NotFound.of("story", story_id)
    return found


def data_policy(ctx: Context) -> DataPolicy:
    """The data policy page's Markdown; ``NotFound`` when the workspace sets none."""
    plan = _portal(ctx)
    if plan is None or plan.data_policy is None:
        raise NotFound("no data policy")
    return plan.data_policy


def _portal(ctx: Context) -> AppliedPlan | None:
    """The applied plan while the portal is enabled; None otherwise."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
    return plan if plan is not None and plan.settings.portal.enabled else None
