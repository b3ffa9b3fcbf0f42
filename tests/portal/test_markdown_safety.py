"""A story's Markdown cannot run script on the portal: classic XSS payloads, the class of
CKAN's CVE-2025-54384, and embeds that cannot be forged. The output is read back with
html.parser, as a browser reads it, never checked with patterns."""

from __future__ import annotations

import pytest
from markupsafe import Markup, escape
from stories_helpers import scan, scheme, unsafe

from civicstat.spec.stories import Embed, embeds
from civicstat.web.portal.markdown import ALLOWED_TAGS, render_markdown

# Each payload as an author could write it in a story, with what it tries.
PAYLOADS = {
    "script element": "<script>alert(1)</script>",
    "script block": "<script>\nalert(document.cookie)\n</script>\n",
    "img onerror": '<img src=x onerror="alert(1)">',
    "img onerror unquoted": "<img src=x onerror=alert(1)//",
    "svg onload": "<svg onload=alert(1)>",
    "svg inside markdown": "*<svg><script>alert(1)</script></svg>*",
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "iframe srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "object data": '<object data="javascript:alert(1)"></object>',
    "style attribute": '<p style="background:url(javascript:alert(1))">x</p>',
    "style element": "<style>body{background:url(javascript:alert(1))}</style>",
    "link javascript": "[x](javascript:alert(1))",
    "link mixed case": "[x](JaVaScRiPt:alert(1))",
    "link entity colon": "[x](javascript&#58;alert(1))",
    "link entity letters": "[x](&#106;avascript:alert(1))",
    "link hex entity": "[x](&#x6A;avascript&#x3A;alert(1))",
    "link tab in scheme": "[x](java\tscript:alert(1))",
    "link escaped newline": "[x](java&#10;script:alert(1))",
    "link leading space": "[x]( javascript:alert(1))",
    "link vbscript": "[x](vbscript:msgbox(1))",
    "link data html": "[x](data:text/html,<script>alert(1)</script>)",
    "link data base64": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "raw anchor data": '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "raw anchor javascript": '<a href="javascript:alert(1)">x</a>',
    "image javascript": "![x](javascript:alert(1))",
    "image data svg": "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "image title onerror": '![x](https://ok.example/a.png "x\\" onerror=\\"alert(1))',
    "autolink javascript": "<javascript:alert(1)>",
    "autolink data": "<data:text/html,alert(1)>",
    "autolink https ok": "<https://www.example.gov/a?b=<script>>",
    "reference link": "[x][evil]\n\n[evil]: javascript:alert(1)",
    "reference link entity": "[x][evil]\n\n[evil]: javascript&colon;alert(1)",
    "reference title": '[x][r]\n\n[r]: https://ok.example "a" onclick="alert(1)"',
    "link title breaks out": '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    "raw html block": '<div onclick="alert(1)">\n\n*hi*\n\n</div>',
    "html comment": "<!-- <script>alert(1)</script> -->",
    "cdata": "<![CDATA[<script>alert(1)</script>]]>",
    "form": '<form action="javascript:alert(1)"><button>go</button></form>',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "base href": '<base href="javascript:alert(1)//">',
    "math": "<math><mtext><script>alert(1)</script></mtext></math>",
    "table cell": "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "code span": "`<script>alert(1)</script>`",
    "fenced code": "```html\n<script>alert(1)</script>\n```",
    # CKAN's markdown_extract stripped tags with a pattern and marked the rest safe:
    # nested tags that a pattern strips into live ones.
    "nested script": "<<script>script>alert(1)<</script>/script>",
    "nested img": "<<img src=x>img src=x onerror=alert(1)>",
    "entity encoded script": "&lt;script&gt;alert(1)&lt;/script&gt;",
    "double encoded": "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;",
    "unclosed tag": '<a href="https://ok.example" onmouseover="alert(1)"',
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_no_payload_can_run_script(payload: str) -> None:
    rendered = render_markdown(f"Before.\n\n{payload}\n\nAfter.")

    assert unsafe(rendered) == []
    assert {tag for tag, _ in scan(rendered).tags} <= ALLOWED_TAGS
    # Nothing the author wrote is lost either: it is shown as text or as safe markup.
    assert "Before." in scan(rendered).words
    assert "After." in scan(rendered).words


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_payloads_in_embeds_and_around_them_stay_text(payload: str) -> None:
    def resolve(embed: Embed) -> Markup:
        return Markup("<strong>%s</strong>") % embed.measure

    rendered = render_markdown(f"{payload} {{{{ value:{payload[:20]} }}}}\n\n{payload}", resolve)

    assert unsafe(rendered) == []


def test_the_checks_themselves_catch_what_they_look_for() -> None:
    """The checker is not vacuous: unsanitised HTML fails it."""
    assert unsafe('<a href="JaVa&#x53;cript&colon;alert(1)">x</a>') == [
        "javascript: URL in href of <a>"
    ]
    assert unsafe("<img src=x onerror=alert(1)>") == ["onerror handler on <img>"]
    assert unsafe("<svg onload=alert(1)>") == ["<svg> element", "onload handler on <svg>"]
    assert scheme("java\tscript:x") == "javascript"
    assert scheme("/portal/policy") is None


def test_a_story_without_tricks_keeps_its_formatting() -> None:
    text = (
        "# Heading\n\nSome **bold**, *em* and `code`.\n\n- one\n- two\n\n"
        "1. first\n\n> quoted\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "[a link](https://www.example.gov/page) [mail](mailto:a@example.gov) "
        "[relative](/portal/datasets) ![chart](/static/chart.png)\n"
    )

    found = scan(render_markdown(text))

    assert [t for t, _ in found.tags] == [
        "h1", "p", "strong", "em", "code", "ul", "li", "li", "ol", "li", "blockquote", "p",
        "table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td",
        "p", "a", "a", "a", "img",
    ]  # fmt: skip
    links = found.of("a")
    assert [a["href"] for a in links] == [
        "https://www.example.gov/page",
        "mailto:a@example.gov",
        "/portal/datasets",
    ]
    # Every link opens without handing the portal's window or address to the next site.
    assert {a["rel"] for a in links} == {"noopener noreferrer"}
    # Table alignment would be a style attribute: refused like any other.
    assert all("style" not in attrs for _, attrs in found.tags)
    assert found.of("img") == [{"src": "/static/chart.png", "alt": "chart"}]


def test_raw_html_is_shown_as_text_not_dropped() -> None:
    found = scan(render_markdown('Hello <b onclick="x()">there</b>'))

    assert found.words == 'Hello <b onclick="x()">there</b>'
    assert [t for t, _ in found.tags] == ["p"]


def test_embeds_resolve_after_sanitising_into_their_own_fragments() -> None:
    seen: list[Embed] = []

    def resolve(embed: Embed) -> Markup:
        seen.append(embed)
        if embed.block:
            return Markup('<figure class="card">%s</figure>') % embed.measure
        return Markup("<strong>%s</strong>") % embed.measure

    rendered = render_markdown(
        "Closed: {{ value:closed }} of all.\n\n{{ measure:closed }}\n\nNot `{{ value:code }}`.",
        resolve,
    )

    assert [(e.kind, e.measure, e.block) for e in seen] == [
        ("value", "closed", False),
        ("measure", "closed", True),
    ]
    # The card replaces its paragraph; the code span keeps its braces as text.
    assert [t for t, _ in scan(rendered).tags] == ["p", "strong", "figure", "p", "code"]
    assert "{{ value:code }}" in scan(rendered).words


def test_an_embed_placeholder_cannot_be_forged() -> None:
    """The placeholders carry a random nonce per render: text that looks like one is
    text, and a resolver's output is only ever put where an embed was."""
    first: list[str] = []

    def resolve(embed: Embed) -> Markup:
        return Markup("<strong>%s</strong>") % "resolved"

    rendered = render_markdown("civicstat-embed-0-0- and {{ value:x }}", resolve)
    first.append(rendered)

    assert scan(rendered).words == "civicstat-embed-0-0- and resolved"
    assert render_markdown("{{ value:x }}") == Markup("<p>{{ value:x }}</p>\n")


def test_a_fragment_is_escaped_by_the_resolver_not_trusted_from_the_text() -> None:
    hostile = '<script>alert("x")</script>'

    def resolve(embed: Embed) -> Markup:
        return Markup("<strong>%s</strong>") % hostile  # as the templates do: escaped

    rendered = render_markdown("{{ value:x }}", resolve)

    assert unsafe(rendered) == []
    assert scan(rendered).words == hostile
    assert str(escape(hostile)) in rendered


def test_validation_and_rendering_find_the_same_embeds() -> None:
    body = (
        "A {{ value:a }} b `{{ value:in-code }}` [link {{ value:c }}](https://x.example)\n\n"
        "{{ measure:d }}\n\n```\n{{ measure:fenced }}\n```\n\n![alt {{ value:alt }}](/i.png)\n"
    )
    rendered: list[str] = []

    def resolve(embed: Embed) -> Markup:
        rendered.append(embed.measure)
        return Markup("<span>%s</span>") % embed.measure

    render_markdown(body, resolve)

    assert [e.measure for e in embeds(body)] == rendered == ["a", "c", "d"]
