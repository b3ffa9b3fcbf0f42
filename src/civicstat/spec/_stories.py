"""Validate the portal's Markdown: each story in ``stories/`` and the data policy file.

Both are published to anyone, so they are read only from inside the workspace folder
(a link pointing out of it, a hidden file or CivicStat's own state is refused: a spec
never reaches the server's own files), and every problem is reported at its place: the
front matter's keys and values, each embed, the ``portal.data_policy`` setting.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from markdown_it import MarkdownIt
from pydantic import TypeAdapter, ValidationError

from civicstat.spec._errors import hint, model_issues
from civicstat.spec._files import File
from civicstat.spec.boundary import Boundary, real_path
from civicstat.spec.models import DataPolicy, Portal, Slug, Story, StoryMeta
from civicstat.spec.stories import STORIES_DIR, embeds, front_matter, parser
from civicstat.spec.workspace import Issue
from civicstat.spec.yamlpos import load_yaml, read_text

_SLUG: TypeAdapter[str] = TypeAdapter(Slug)
_POLICY = ("portal", "data_policy")


def story_files(root: Path) -> list[str]:
    """The Markdown files in ``stories/``, by name, hidden ones left out."""
    folder = root / STORIES_DIR
    if not folder.is_dir():
        return []
    names = [p.name for p in folder.iterdir() if p.suffix == ".md" and not p.name.startswith(".")]
    return [f"{STORIES_DIR}/{name}" for name in sorted(names)]


def load_stories(
    root: Path, boundary: Boundary, measures: set[str]
) -> tuple[dict[str, Story], list[Issue]]:
    """Every story, and every problem in them; ``measures`` are the ids embeds may name."""
    stories: dict[str, Story] = {}
    issues: list[Issue] = []
    md = parser()
    for path in story_files(root):
        refused = _refusal(boundary, root / path)
        if refused is not None:
            issues.append(Issue(path, 1, 1, f"{path} {refused}"))
            continue
        if not (root / path).is_file():
            continue
        text, problems = read_text(root / path, path)
        issues += problems
        if text is None:
            continue
        story, problems = _story(path, text, measures, md)
        issues += problems
        if story is not None:
            stories[story.id] = story
    return stories, issues


def _story(
    path: str, text: str, measures: set[str], md: MarkdownIt
) -> tuple[Story | None, list[Issue]]:
    issues: list[Issue] = []
    story_id = PurePosixPath(path).stem
    try:
        _SLUG.validate_python(story_id)
    except ValidationError:
        issues.append(
            Issue(
                path,
                1,
                1,
                f"story file name {story_id!r} is not a lower-case id (letters, digits, '-' "
                "and '_', first a letter): it is the story's address",
            )
        )
    split = front_matter(text)
    meta = None
    if split.yaml is None:
        message = "a story starts with front matter: a line '---', 'title: ...', then '---'"
        issues.append(Issue(path, 1, 1, message))
    else:
        meta, problems = _front(path, split.yaml)
        issues += problems
    for embed in embeds(split.body, md):
        line, column = embed.line + split.body_line - 1, embed.column
        if embed.problem is not None:
            issues.append(Issue(path, line, column, embed.problem))
        elif embed.measure not in measures:
            message = f"measure {embed.measure!r} not in measures/{hint(embed.measure, measures)}"
            issues.append(Issue(path, line, column, message))
    if meta is None or issues:
        return None, issues
    return Story(id=story_id, body=split.body, **meta.model_dump()), []


def _front(path: str, yaml_text: str) -> tuple[StoryMeta | None, list[Issue]]:
    """The front matter's model. Its YAML starts on the file's second line, so it is read
    after one empty line: every place, in messages too, is then the file's own."""
    doc, issues = load_yaml("\n" + yaml_text, path)
    if doc is None:
        return None, issues
    if doc.data is None:
        return None, [*issues, Issue(path, 2, 1, "front matter is empty: a story needs a title")]
    try:
        return StoryMeta.model_validate(doc.data), issues
    except ValidationError as error:
        return None, [*issues, *model_issues(error, StoryMeta, doc)]


def load_policy(
    root: Path, boundary: Boundary, settings: File | None
) -> tuple[DataPolicy | None, list[Issue]]:
    """The data policy file civicstat.yaml names, read from inside the workspace only."""
    portal = settings.data.get("portal") if settings is not None else None
    named = portal.get("data_policy") if isinstance(portal, dict) else None
    if settings is None or not isinstance(named, str):
        return None, []  # absent, or a wrong type the model already reports

    def issue(message: str) -> list[Issue]:
        line, column = settings.doc.positions.value(_POLICY)
        return [Issue(settings.path, line, column, f"portal.data_policy: {message}")]

    try:
        Portal.model_validate({"data_policy": named})
    except ValidationError:
        return None, []  # the model reports it, at the same place
    written = PurePosixPath(named)
    file = root / written
    refused = _refusal(boundary, file)
    if refused is not None:
        return None, issue(f"{named} {refused}")
    if not file.is_file():
        return None, issue(f"{named} not found in the workspace folder")
    text, problems = read_text(file, str(written))
    if text is None:
        return None, problems
    return DataPolicy(path=str(written), text=text), []


def _refusal(boundary: Boundary, path: Path) -> str | None:
    """Why the portal may not publish ``path``: outside the workspace folder itself (data
    roots do not count), hidden, or CivicStat's own state."""
    if not real_path(path).is_relative_to(boundary.workspace):
        return (
            "is outside the workspace folder (through a link?): the portal publishes only "
            "files inside it"
        )
    return boundary.refusal(path)
