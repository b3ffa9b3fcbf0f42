"""stories/*.md and the data policy: Markdown the portal publishes from the workspace.

A story's front matter (between ``---`` lines) says its title and when it was published;
its body is Markdown that may embed live measures by id (see :mod:`civicstat.spec.stories`).
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from civicstat.spec.models._base import Slug, SpecModel


class StoryMeta(SpecModel):
    """A story's front matter."""

    title: str = Field(min_length=1, max_length=200, description="The story's headline")
    summary: str | None = Field(
        None, max_length=1000, description="One or two sentences for the list of stories"
    )
    published: dt.date | None = Field(None, description="Date of publication, e.g. 2025-07-01")
    author: str | None = Field(None, max_length=200, description="Who wrote it (optional)")


class Story(StoryMeta):
    """A story as applied: its id (the file's name without .md), front matter and body."""

    id: Slug
    body: str = Field(description="Markdown, with {{ measure:<id> }} and {{ value:<id> }}")


class DataPolicy(SpecModel):
    """The portal's data policy page, as applied: the file it came from and its Markdown."""

    path: str
    text: str
