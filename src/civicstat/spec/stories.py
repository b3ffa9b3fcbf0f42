"""Reading stories: front matter, the Markdown parser, and live embeds of measures.

A story is ``stories/<id>.md``: YAML front matter between ``---`` lines, then a Markdown
body. The body may embed a measure by id: ``{{ measure:<id> }}`` on a line of its own is
the measure's card with its chart; ``{{ value:<id> }}`` anywhere in text is its latest
published value. Both the validator and the portal find embeds with the same parser, in
text only (never in code, link targets or image descriptions), so what validates is what
renders. The parser is CommonMark with raw HTML switched off (plus tables).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

__all__ = [
    "EMBED_KINDS",
    "STORIES_DIR",
    "Embed",
    "FrontMatter",
    "embeds",
    "front_matter",
    "parser",
]

STORIES_DIR = "stories"
EMBED_KINDS = ("measure", "value")
EMBED_TYPE = "civicstat_embed"
"""The token type an embed becomes in the parsed Markdown (``meta`` holds an Embed)."""

_BRACES = re.compile(r"\{\{(.*?)\}\}")
_INSIDE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*:\s*(\S+)\s*")
_FENCE = ("---",)
_END = ("---", "...")


@dataclass(frozen=True)
class Embed:
    """One ``{{ ... }}`` in a story's text, as written; ``problem`` says why it cannot render."""

    text: str  # as written, braces included
    kind: str
    measure: str
    block: bool  # alone in its paragraph: a measure card goes there
    line: int = 1  # 1-based, in the body
    column: int = 1
    problem: str | None = None


@dataclass(frozen=True)
class FrontMatter:
    """A story file split: its front matter's text (None when it has none) and its body."""

    yaml: str | None
    body: str
    body_line: int  # the line of the file the body starts on (1-based)


def front_matter(text: str) -> FrontMatter:
    """Split ``text`` at its front matter: a first line ``---``, then YAML up to a line
    ``---`` (or ``...``). Without both, the whole file is the body."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].rstrip() not in _FENCE:
        return FrontMatter(None, text, 1)
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() in _END:
            return FrontMatter("".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2)
    return FrontMatter(None, text, 1)


def parser() -> MarkdownIt:
    """CommonMark without raw HTML (an HTML tag in a story is shown as text), with tables,
    and with each embed in text as its own token."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.core.ruler.push("civicstat_embeds", _split_embeds)
    return md


def embeds(body: str, md: MarkdownIt | None = None) -> list[Embed]:
    """Every embed in a story's body, with its place and what is wrong with it, if anything."""
    tokens = (md or parser()).parse(body)
    lines = body.splitlines()
    found: list[Embed] = []
    for block in tokens:
        if block.type != "inline" or not block.children:
            continue
        first = block.map[0] if block.map else 0
        last = block.map[1] if block.map else len(lines)
        text = "\n".join(lines[first:last])
        cursor = 0
        for child in block.children:
            if child.type != EMBED_TYPE:
                continue
            embed: Embed = child.meta["embed"]
            at = text.find(embed.text, cursor)
            if at < 0:  # written with escapes or entities: the block's start will do
                line, column = first + 1, 1
            else:
                cursor = at + len(embed.text)
                line = first + text.count("\n", 0, at) + 1
                column = at - (text.rfind("\n", 0, at) + 1) + 1
            found.append(_placed(embed, line, column))
    return found


def _placed(embed: Embed, line: int, column: int) -> Embed:
    return Embed(embed.text, embed.kind, embed.measure, embed.block, line, column, embed.problem)


def _split_embeds(state: StateCore) -> None:
    """Core rule: cut each text token at its embeds; a measure embed alone in a paragraph
    (its only content, spaces aside) is a block, where its card goes."""
    for index, block in enumerate(state.tokens):
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        for child in block.children:
            children.extend(_cut(child) if child.type == "text" else [child])
        in_paragraph = index > 0 and state.tokens[index - 1].type == "paragraph_open"
        solid = [c for c in children if not (c.type == "text" and not c.content.strip())]
        alone = in_paragraph and len(solid) == 1 and solid[0].type == EMBED_TYPE
        if alone and solid[0].meta["embed"].kind == "measure":
            embed: Embed = solid[0].meta["embed"]
            solid[0].meta["embed"] = Embed(embed.text, embed.kind, embed.measure, True)
            children = solid
        block.children = children


def _cut(token: Token) -> Iterator[Token]:
    start = 0
    for match in _BRACES.finditer(token.content):
        if match.start() > start:
            yield _text(token.content[start : match.start()])
        embed = Token(EMBED_TYPE, "", 0)
        embed.meta = {"embed": _embed(match.group(0), match.group(1))}
        yield embed
        start = match.end()
    if start == 0:
        yield token
    elif start < len(token.content):
        yield _text(token.content[start:])


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _embed(written: str, inside: str) -> Embed:
    parts = _INSIDE.fullmatch(inside)
    if parts is None:
        wrong = (
            f"{written!r} is not an embed: write {{{{ measure:<measure id> }}}} for a "
            "chart or {{ value:<measure id> }} for a number"
        )
        return Embed(written, "", "", False, problem=wrong)
    kind, measure = parts.group(1), parts.group(2)
    problem: str | None = None
    if kind not in EMBED_KINDS:
        problem = f"unknown embed {kind!r}: use measure (a chart) or value (a number)"
    elif kind == "measure":
        problem = "a measure embed is a chart: write it alone on a line of its own"
    return Embed(written, kind, measure, False, problem=problem)
