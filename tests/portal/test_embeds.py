"""Embeddable measures: the framed card and the sites that may frame it, the SVG badge,
and oEmbed discovery, for published measures only."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from stories_helpers import MEASURE, edit_yaml, scan, unsafe
from test_stories import _monthly_share

from civicstat.governance.actors import Actor
from civicstat.services import ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.web.charts import format_value
from civicstat.web.headers import allows_framing, framed_by
from civicstat.web.portal.badge import COLOURS, TEXT

SVG = "{http://www.w3.org/2000/svg}"
ORIGIN = "https://www.millbrook.example.org"  # the example's embed_origins
HOSTILE = '</text><script>alert("x")</script><text x="0">& \'quotes\' <b>'


@pytest.fixture
def ingested(example_ctx: Context, admin: Actor) -> Context:
    ingest.ingest(example_ctx, admin, "service_requests")
    return example_ctx


@pytest.fixture
def client(example_ctx: Context, make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(example_ctx)


def _apply(ctx: Context, admin: Actor) -> None:
    workspace_service.apply(ctx, admin)


def _frame_ancestors(csp: str) -> str:
    return next(d.strip() for d in csp.split(";") if d.strip().startswith("frame-ancestors"))


def _hide_the_data(root: Path, ctx: Context, admin: Actor) -> None:
    """The dataset under every example measure becomes internal: none may be published."""
    edit_yaml(root / "sources" / "service_requests.yaml", {"classification": "internal"})
    _apply(ctx, admin)


# --- framing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origins", "expected"),
    [
        ([], "frame-ancestors 'none'"),
        ([ORIGIN], f"frame-ancestors {ORIGIN}"),
        ([ORIGIN, "http://intranet.millbrook.example.org:8080"],
         f"frame-ancestors {ORIGIN} http://intranet.millbrook.example.org:8080"),
    ],
)  # fmt: skip
def test_the_card_may_be_framed_only_by_the_listed_sites(
    example_root: Path,
    ingested: Context,
    admin: Actor,
    client: TestClient,
    origins: list[str],
    expected: str,
) -> None:
    edit_yaml(example_root / "civicstat.yaml", {"portal.embed_origins": origins})
    _apply(ingested, admin)

    answer = client.get(f"/portal/embed/{MEASURE}")

    assert answer.status_code == 200
    csp = answer.headers["content-security-policy"]
    assert _frame_ancestors(csp) == expected
    # The rest of the policy is the site's own: no script from anywhere, no plugins.
    assert csp.replace(expected, "frame-ancestors 'none'") == framed_by([])
    # X-Frame-Options cannot name a site: DENY would override the allowlist in browsers
    # that read it, so it goes exactly when some site may frame the card.
    assert ("x-frame-options" in answer.headers) is (not origins)
    if not origins:
        assert answer.headers["x-frame-options"] == "DENY"


def test_every_other_page_still_refuses_every_frame(ingested: Context, client: TestClient) -> None:
    for path in ("/portal/stories", "/portal/policy", f"/portal/measures/{MEASURE}/badge.svg"):
        answer = client.get(path)
        assert _frame_ancestors(answer.headers["content-security-policy"]) == (
            "frame-ancestors 'none'"
        ), path
        assert answer.headers["x-frame-options"] == "DENY", path


@pytest.mark.parametrize(
    ("csp", "allowed"),
    [
        (None, False),
        ("default-src 'self'", False),
        ("default-src 'self'; frame-ancestors 'none'", False),
        ("frame-ancestors  'NONE' ", False),
        ("frame-ancestors", False),
        ("default-src 'self'; frame-ancestors https://a.example", True),
        ("FRAME-ANCESTORS 'self'", True),
    ],
)
def test_which_policies_let_a_site_frame_an_answer(csp: str | None, allowed: bool) -> None:
    assert allows_framing(csp) is allowed


# --- the card ----------------------------------------------------------------------------------


def test_the_card_shows_the_latest_value_status_trend_and_a_link(
    example_root: Path, ingested: Context, client: TestClient
) -> None:
    month, (_, value) = list(_monthly_share(example_root).items())[-1]

    answer = client.get(f"/portal/embed/{MEASURE}")

    page = scan(answer.text)
    assert page.words.startswith(
        f"Share of service requests closed by their due date · Millbrook Open Data "
        f"Share of service requests closed by their due date {format_value(value, 'percent')} "
        f"{month} Off target Target 85.0%"
    )
    link = page.of("a")[0]
    assert link == {
        "class": "measure-card-title",
        "href": f"/portal/measures/{MEASURE}",
        "target": "_blank",
        "rel": "noopener",
    }
    sparkline = page.of("svg")[0]
    assert sparkline["class"] == "sparkline"
    assert sparkline["aria-label"].endswith(
        f"to {format_value(value, 'percent')}, lowest 70.0%, highest 85.0%"
    )
    assert "Data as of" in page.words
    assert unsafe(answer.text, ours=frozenset({"svg", "link", "meta"})) == []
    assert answer.headers["cache-control"] == "public, max-age=300"


def test_a_card_with_a_suppressed_latest_value_withholds_it(
    example_root: Path, ingested: Context, admin: Actor, client: TestClient
) -> None:
    month, (n, value) = list(_monthly_share(example_root).items())[-1]
    edit_yaml(example_root / "governance.yaml", {"suppression.k": n + 1})
    _apply(ingested, admin)

    card = client.get(f"/portal/embed/{MEASURE}").text
    badge = client.get(f"/portal/measures/{MEASURE}/badge.svg").text

    assert f"Withheld: fewer than {n + 1} records {month} No data" in scan(card).words
    assert format_value(value, "percent") not in card
    assert format_value(value, "percent") not in badge
    assert "withheld" in badge


def test_what_may_not_be_published_answers_like_a_missing_measure(
    example_root: Path, ingested: Context, admin: Actor, client: TestClient
) -> None:
    _hide_the_data(example_root, ingested, admin)
    paths = [
        "/portal/embed/{m}",
        "/portal/measures/{m}/badge.svg",
        "/portal/oembed?url=http://testserver/portal/measures/{m}&format=json",
    ]

    for path in paths:
        hidden = client.get(path.format(m=MEASURE))
        missing = client.get(path.format(m="no-such-measure"))
        assert hidden.status_code == missing.status_code == 404, path
        assert hidden.text == missing.text, path
        assert "closed by their due date" not in hidden.text


# --- the badge ---------------------------------------------------------------------------------


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - our own answer, parsed to prove it well-formed


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("status", sorted(COLOURS))
def test_badge_text_is_readable_on_every_status_colour(status: str) -> None:
    assert _contrast(TEXT, COLOURS[status]) >= 4.5


def test_the_badge_is_an_accessible_svg_of_the_latest_value(
    example_root: Path, ingested: Context, client: TestClient
) -> None:
    month, (_, value) = list(_monthly_share(example_root).items())[-1]

    answer = client.get(f"/portal/measures/{MEASURE}/badge.svg")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    root = _svg(answer.text)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    shown = format_value(value, "percent")
    said = f"Share of service requests closed by their due date: {shown} ({month}) (off target)"
    assert root.get("aria-label") == said
    assert root.findtext(f"{SVG}title") == said
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert fills[1] == COLOURS["off_target"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[1] == f"{format_value(value, 'percent')} ({month})"


def test_a_hostile_measure_title_stays_text_in_the_badge_card_and_oembed(
    example_root: Path, example_ctx: Context, admin: Actor, client: TestClient
) -> None:
    spec = yaml.safe_load((example_root / "measures" / "requests-received.yaml").read_text())
    spec |= {"id": "hostile", "title": HOSTILE}
    (example_root / "measures" / "hostile.yaml").write_text(yaml.safe_dump(spec))
    _apply(example_ctx, admin)
    ingest.ingest(example_ctx, admin, "service_requests")

    badge = _svg(client.get("/portal/measures/hostile/badge.svg").text)
    assert [e.tag for e in badge.iter()] == [
        f"{SVG}{t}" for t in ("svg", "title", "rect", "rect", "g", "text", "text")
    ]
    assert badge.findtext(f"{SVG}title", "").startswith(f"{HOSTILE}: 57 (2025-06)")
    assert next(badge.iter(f"{SVG}text")).text == HOSTILE[:47].rstrip() + "…"

    card = client.get("/portal/embed/hostile").text
    assert unsafe(card, ours=frozenset({"svg", "link", "meta"})) == []
    assert HOSTILE in scan(card).words

    answer = client.get(
        "/portal/oembed", params={"url": "http://testserver/portal/measures/hostile"}
    ).json()
    assert answer["title"] == HOSTILE
    frame = scan(answer["html"])
    assert [t for t, _ in frame.tags] == ["iframe"]
    assert frame.of("iframe")[0]["title"] == HOSTILE


# --- oEmbed ------------------------------------------------------------------------------------


def test_oembed_answers_a_rich_iframe_of_the_card(ingested: Context, client: TestClient) -> None:
    for url in (
        f"http://testserver/portal/measures/{MEASURE}",
        f"http://testserver/portal/embed/{MEASURE}",
        f"https://TESTSERVER/portal/measures/{MEASURE}/",
    ):
        answer = client.get("/portal/oembed", params={"url": url, "format": "json"})
        assert answer.status_code == 200, url
        assert answer.headers["content-type"] == "application/json"
        found = json.loads(answer.text)
        assert {k: v for k, v in found.items() if k != "html"} == {
            "version": "1.0",
            "type": "rich",
            "title": "Share of service requests closed by their due date",
            "provider_name": "Millbrook Open Data",
            "provider_url": "http://testserver/portal",
            "cache_age": 300,
            "width": 400,
            "height": 260,
        }
        frame = scan(found["html"])
        assert frame.of("iframe") == [
            {
                "src": f"http://testserver/portal/embed/{MEASURE}",
                "width": "400",
                "height": "260",
                "title": "Share of service requests closed by their due date",
                "loading": "lazy",
            }
        ]


@pytest.mark.parametrize(
    ("maxwidth", "maxheight", "size"),
    [(300, None, (300, 260)), (None, 100, (400, 100)), (1000, 1000, (400, 260)), (1, 1, (1, 1))],
)
def test_oembed_honours_the_largest_size_asked(
    ingested: Context,
    client: TestClient,
    maxwidth: int | None,
    maxheight: int | None,
    size: tuple[int, int],
) -> None:
    params: dict[str, str | int] = {"url": f"http://testserver/portal/measures/{MEASURE}"}
    params |= {"maxwidth": maxwidth} if maxwidth else {}
    params |= {"maxheight": maxheight} if maxheight else {}

    found = client.get("/portal/oembed", params=params).json()

    assert (found["width"], found["height"]) == size
    frame = scan(found["html"]).of("iframe")[0]
    assert (int(frame["width"]), int(frame["height"])) == size


@pytest.mark.parametrize(
    "url",
    [
        f"http://evil.example/portal/measures/{MEASURE}",
        f"http://testserver.evil.example/portal/measures/{MEASURE}",
        f"http://testserver:8080/portal/measures/{MEASURE}",
        f"http://user@testserver/portal/measures/{MEASURE}",
        f"ftp://testserver/portal/measures/{MEASURE}",
        f"//testserver/portal/measures/{MEASURE}",
        f"/portal/measures/{MEASURE}",
        "http://testserver/portal/measures/no-such-measure",
        f"http://testserver/portal/datasets/{MEASURE}",
        f"http://testserver/portal/measures/{MEASURE}/badge.svg",
        "http://testserver/portal/stories/closing-requests-on-time",
        "http://[::1/portal/measures/x",
        "http://testserver:99999/portal/measures/x",
        "javascript:alert(1)",
    ],
)
def test_oembed_answers_only_for_this_portals_own_measures(
    ingested: Context, client: TestClient, url: str
) -> None:
    missing = client.get("/portal/no-such-page-anywhere")

    answer = client.get("/portal/oembed", params={"url": url, "format": "json"})

    assert (answer.status_code, answer.text) == (404, missing.text)


@pytest.mark.parametrize("format_", ["xml", "XML", "yaml"])
def test_oembed_serves_json_only(ingested: Context, client: TestClient, format_: str) -> None:
    url = f"http://testserver/portal/measures/{MEASURE}"

    answer = client.get("/portal/oembed", params={"url": url, "format": format_})

    assert answer.status_code == 501


def test_the_portals_own_address_is_the_one_oembed_answers_for(
    example_root: Path, ingested: Context, admin: Actor, client: TestClient
) -> None:
    edit_yaml(example_root / "civicstat.yaml", {"portal.url": "https://data.millbrook.example.org"})
    _apply(ingested, admin)
    own = f"https://data.millbrook.example.org/portal/measures/{MEASURE}"

    found = client.get("/portal/oembed", params={"url": own}).json()
    refused = client.get(
        "/portal/oembed", params={"url": f"http://testserver/portal/measures/{MEASURE}"}
    )

    src = scan(found["html"]).of("iframe")[0]["src"]
    assert src == f"https://data.millbrook.example.org/portal/embed/{MEASURE}"
    assert found["provider_url"] == "https://data.millbrook.example.org/portal"
    assert refused.status_code == 404


def test_the_card_says_where_its_oembed_is_and_that_address_answers(
    ingested: Context, client: TestClient
) -> None:
    card = scan(client.get(f"/portal/embed/{MEASURE}").text)

    links = [a for a in card.of("link") if a.get("type") == "application/json+oembed"]
    assert len(links) == 1
    assert links[0]["rel"] == "alternate"
    href = urlsplit(links[0]["href"])
    asked = parse_qs(href.query)
    assert asked == {"url": [f"http://testserver/portal/measures/{MEASURE}"], "format": ["json"]}
    found = client.get(f"{href.path}?{href.query}").json()
    assert found["type"] == "rich"
    assert found["title"] == links[0]["title"]


def test_a_repeated_request_with_its_etag_is_not_modified(
    ingested: Context, client: TestClient
) -> None:
    for path in (
        f"/portal/embed/{MEASURE}",
        f"/portal/measures/{MEASURE}/badge.svg",
        f"/portal/oembed?url=http://testserver/portal/measures/{MEASURE}",
    ):
        first = client.get(path)
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, path
        assert again.headers["etag"] == first.headers["etag"]
        assert again.content == b""


def test_the_measure_page_says_where_its_oembed_is_and_that_address_answers(
    ingested: Context, client: TestClient
) -> None:
    page = scan(client.get(f"/portal/measures/{MEASURE}").text)

    links = [a for a in page.of("link") if a.get("type") == "application/json+oembed"]
    assert len(links) == 1
    href = urlsplit(links[0]["href"])
    assert parse_qs(href.query)["url"] == [f"http://testserver/portal/measures/{MEASURE}"]
    found = client.get(f"{href.path}?{href.query}").json()
    assert found["title"] == links[0]["title"]
    src = scan(found["html"]).of("iframe")[0]["src"]
    assert client.get(urlsplit(src).path).status_code == 200


def test_a_not_modified_card_keeps_the_sites_that_may_frame_it(
    ingested: Context, client: TestClient
) -> None:
    """A browser updates a stored answer's headers from a 304: a 304 with the site-wide
    policy would forbid every frame of a card it had allowed."""
    path = f"/portal/embed/{MEASURE}"
    first = client.get(path)
    for _ in range(2):  # the route's answer, then the server's copy of it
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert _frame_ancestors(again.headers["content-security-policy"]) == (
            f"frame-ancestors {ORIGIN}"
        )
        assert "x-frame-options" not in again.headers
    copy = client.get(path)  # the server's copy of the whole answer
    assert copy.headers["content-security-policy"] == first.headers["content-security-policy"]
    assert "x-frame-options" not in copy.headers
