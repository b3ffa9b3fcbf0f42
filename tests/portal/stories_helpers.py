"""What the story and embed tests share: reading HTML as a browser's parser does (never
with patterns), the checks that no script can run, and writing workspace files."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

MEASURE = "pct-requests-closed-on-time"
STORY = "closing-requests-on-time"
# Elements that run script or load active content; none may come out of a story.
ACTIVE_TAGS = {"script", "iframe", "frame", "object", "embed", "svg", "math", "style", "link",
               "meta", "base", "form", "input", "button", "template", "noscript",
               "applet"}  # fmt: skip
# Attributes that hold a URL a browser follows or loads.
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "cite", "data"}
SAFE_SCHEMES = {"http", "https", "mailto"}


@dataclass
class Scan:
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def of(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.tags if tag == name]

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = Scan()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.found.text.append(data)


def scan(page: str) -> Scan:
    """Every element with its attributes (entities decoded, as a browser decodes them)."""
    parser = _Parser()
    parser.feed(page)
    parser.close()
    return parser.found


def scheme(url: str) -> str | None:
    """The scheme a browser would see in ``url``: entities decoded, the tabs, newlines and
    control characters it ignores removed, case folded; None for a relative address."""
    cleaned = re.sub(r"[\x00-\x20]", "", html.unescape(url)).lower()
    found = re.match(r"([a-z][a-z0-9+.-]*):", cleaned)
    return found.group(1) if found else None


def unsafe(fragment: str, ours: frozenset[str] = frozenset()) -> list[str]:
    """Everything in an HTML fragment that could run script, each as a short reason;
    ``ours`` names elements the server itself draws there (a chart's ``svg``)."""
    problems = []
    for tag, attrs in scan(fragment).tags:
        if tag in ACTIVE_TAGS - ours:
            problems.append(f"<{tag}> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                problems.append(f"{name} handler on <{tag}>")
            if name in ("style", "srcdoc", "formaction"):
                problems.append(f"{name} attribute on <{tag}>")
            if name in URL_ATTRIBUTES and scheme(value) not in (None, *SAFE_SCHEMES):
                problems.append(f"{scheme(value)}: URL in {name} of <{tag}>")
    return problems


def story_body(page: str) -> str:
    """The rendered Markdown of a story or policy page (inside div.story-body)."""
    start = page.index('<div class="story-body">')
    return page[start : page.index("</article>", start)]


def write_story(root: Path, name: str, front: dict[str, Any] | str, body: str) -> Path:
    folder = root / "stories"
    folder.mkdir(exist_ok=True)
    head = front if isinstance(front, str) else yaml.safe_dump(front, sort_keys=False)
    path = folder / f"{name}.md"
    path.write_text(f"---\n{head}---\n{body}", encoding="utf-8")
    return path


def edit_yaml(path: Path, changes: dict[str, Any]) -> None:
    """Set top-level keys (a dotted key sets one level down) in a workspace YAML file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        parent, _, leaf = key.rpartition(".")
        target = data[parent] if parent else data
        target[leaf] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
