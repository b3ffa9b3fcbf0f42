"""Markdown from the workspace as safe HTML: a real parser, then a sanitiser, then embeds.

Three steps, none of them a regular expression over HTML:

1. markdown-it-py parses CommonMark with raw HTML switched off (an HTML tag in a story
   is shown as text) and tables on; each ``{{ kind:id }}`` in text becomes its own token
   (:mod:`civicstat.spec.stories`), written out as a placeholder no author can guess.
2. nh3 (ammonia) keeps only the tags and attributes below, links only to http, https,
   mailto or a relative address (no ``javascript:``, ``data:`` or ``vbscript:``, however
   written), and gives every link ``rel="noopener noreferrer"``.
3. Each placeholder is replaced by a fragment the server renders from an autoescaped
   template (a measure's card, a number): embeds never pass through the sanitiser as raw
   HTML, and nothing the author wrote reaches the page unsanitised.

This is the lesson of CKAN's CVE-2025-54384, where Markdown stripped of its tags by a
pattern was then marked safe: here nothing is marked safe but the sanitiser's output and
our own templates.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

import nh3
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from civicstat.spec.stories import EMBED_TYPE, Embed, parser

__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "URL_SCHEMES", "Resolve", "render_markdown"]

ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre",
     "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"}
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed with everything inside them, rather than kept as text.
_DROPPED = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript"})

Resolve = Callable[[Embed], Markup]
"""Renders one embed (a measure's card for a block, a number inline) as trusted HTML."""

_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(_DROPPED),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    link_rel="noopener noreferrer",
    strip_comments=True,
)
_MD = parser()


def _placeholder(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    env["embeds"].append(tokens[idx].meta["embed"])
    return f"{env['nonce']}-{len(env['embeds']) - 1}-"


_MD.add_render_rule(EMBED_TYPE, _placeholder)


def render_markdown(text: str, resolve: Resolve | None = None) -> Markup:
    """``text`` as sanitised HTML with its embeds resolved (left as written, as text,
    when ``resolve`` is None)."""
    env: dict[str, Any] = {"nonce": f"civicstat-embed-{secrets.token_hex(12)}", "embeds": []}
    html = _CLEANER.clean(_MD.render(text, env))
    found: list[Embed] = env["embeds"]
    for index, embed in enumerate(found):
        mark = f"{env['nonce']}-{index}-"
        fragment = resolve(embed) if resolve is not None else escape(embed.text)
        block = f"<p>{mark}</p>"
        if embed.block and block in html:
            html = html.replace(block, str(fragment), 1)
        else:
            html = html.replace(mark, str(fragment), 1)
    return Markup(html)  # noqa: S704 - the sanitiser's output and our escaped fragments
