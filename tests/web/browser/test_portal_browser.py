"""The transparency portal in a real browser, as a resident with no account meets it: every
portal page type passes axe-core with no serious or critical violation, the keyboard alone
goes from the skip link through the menu and the search form to a dataset, and the pages
read on a phone 390 px wide without scrolling sideways. Screenshots go to ``screenshots/``
(``portal-*.png``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from browser_helpers import LiveCity, screenshot, serious_violations

from civicstat.governance.actors import operator
from civicstat.services import open_data, publication
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

MEASURE = "pct-911-answered-10s"  # over confidential 911 calls: published once approved
MEASURE_TITLE = "Share of 911 calls answered within 10 seconds"
DATASET = "service_requests"
STORY = "answering-911-faster"  # embeds the approved 911 measures
STORY_TITLE = "Answering 911 faster after the staffing crunch"
# page type → (path, status, heading), checked before axe runs.
PAGE_TYPES: dict[str, tuple[str, int, str]] = {
    "home": ("/portal", 200, "Riverton Open Data"),
    "plan": ("/portal/plan", 200, "Riverton Strategic Plan"),
    "goal": ("/portal/goals/safe-neighborhoods", 200, "Safe neighborhoods"),
    "measure": (f"/portal/measures/{MEASURE}", 200, MEASURE_TITLE),
    "catalog": ("/portal/datasets", 200, "Data catalog"),
    "catalog-search": ("/portal/datasets?q=requests&classification=public", 200, "Data catalog"),
    "dataset": (f"/portal/datasets/{DATASET}", 200, "311 service requests"),
    "stories": ("/portal/stories", 200, "Stories"),
    "story": (f"/portal/stories/{STORY}", 200, STORY_TITLE),
    "policy": ("/portal/policy", 200, "Riverton's open data policy"),
    "not-found": ("/portal/datasets/calls_911", 404, "Page not found"),
}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def portal(city: LiveCity) -> LiveCity:
    """Riverton publishing what a city would: 311 requests public (if the demo does not
    already make them so) and every measure's definition approved for publication."""
    ctx = Context(Settings(workspace=city.root))
    admin = operator("pytest")
    try:
        if not any(d.id == DATASET for d in open_data.catalog(ctx)):
            source = city.root / "sources" / f"{DATASET}.yaml"
            text = source.read_text(encoding="utf-8")
            source.write_text(text.replace("classification: internal", "classification: public"))
            workspace_service.apply(ctx, admin)
        for found in publication.awaiting(ctx, admin):
            if not found.publishable:
                publication.approve(ctx, admin, found.measure_id, note="browser test")
        assert DATASET in [d.id for d in open_data.catalog(ctx)]
    finally:
        ctx.close()
    return city


@pytest.fixture
def visitor(browser: Browser, portal: LiveCity) -> Iterator[Page]:
    """A browser window with no account, at desktop size."""
    context = browser.new_context(base_url=portal.base_url, viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser, portal: LiveCity) -> Iterator[Page]:
    context = browser.new_context(base_url=portal.base_url, viewport=PHONE, is_mobile=True)
    yield context.new_page()
    context.close()


def _open(page: Page, path: str) -> tuple[int, str]:
    response = page.goto(path)
    assert response is not None, path
    assert response.request.redirected_from is None, f"{path} redirected to {page.url}"
    headings = page.locator("h1").all_inner_texts()
    assert len(headings) == 1, f"{path}: {headings}"
    return response.status, " ".join(headings[0].split())


def _focused(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(
        """() => {
          const e = document.activeElement;
          return {tag: e.tagName.toLowerCase(), id: e.id, text: (e.innerText || '').trim(),
                  href: e.getAttribute('href'), outline: getComputedStyle(e).outlineStyle};
        }"""
    )
    return found


@pytest.mark.parametrize("name", list(PAGE_TYPES))
def test_no_portal_page_has_a_serious_accessibility_violation(visitor: Page, name: str) -> None:
    path, status, heading = PAGE_TYPES[name]

    assert _open(visitor, path) == (status, heading)
    screenshot(visitor, f"portal-{name}")
    assert serious_violations(visitor) == []


def test_the_keyboard_alone_goes_from_the_skip_link_to_a_dataset(visitor: Page) -> None:
    visitor.goto("/portal/datasets")
    visitor.keyboard.press("Tab")
    assert _focused(visitor)["text"] == "Skip to content"
    visitor.keyboard.press("Enter")
    assert visitor.evaluate("document.activeElement.id") == "main"

    visitor.goto("/portal/datasets")
    reached = []
    for _ in range(100):
        visitor.keyboard.press("Tab")
        focused = _focused(visitor)
        assert focused["tag"] != "body", f"left the page before a dataset link: {reached}"
        assert focused["outline"] != "none", f"no visible focus on {focused}"
        reached.append(focused)
        if focused["href"] == f"/portal/datasets/{DATASET}":
            break
    hrefs = [f["href"] for f in reached]
    assert hrefs[0] == "#main"
    assert {"/portal", "/portal/plan", "/portal/datasets", "/portal/policy", "/login"} <= set(hrefs)
    assert any(f["id"] == "q" for f in reached)  # the search box
    visitor.keyboard.press("Enter")
    visitor.wait_for_url(f"**/portal/datasets/{DATASET}")
    assert visitor.get_by_role("heading", level=1).inner_text() == "311 service requests"


def test_the_search_form_works_without_a_script(visitor: Page) -> None:
    visitor.goto("/portal/datasets")
    visitor.get_by_label("Search datasets").fill("311")
    visitor.keyboard.press("Enter")
    visitor.wait_for_url("**/portal/datasets?q=311")
    links = visitor.locator(".results h3 a").all_inner_texts()
    assert "311 service requests" in links


def test_the_embeddable_card_has_no_serious_accessibility_violation(visitor: Page) -> None:
    """The card a city's site frames: a page of its own, read in the frame as it is."""
    response = visitor.goto(f"/portal/embed/{MEASURE}")
    assert response is not None
    assert response.status == 200
    assert MEASURE_TITLE in visitor.inner_text("main")
    screenshot(visitor, "portal-embed")
    assert serious_violations(visitor) == []


@pytest.mark.parametrize("name", ["home", "measure", "catalog", "dataset", "story"])
def test_portal_pages_read_on_a_phone_without_sideways_scrolling(phone: Page, name: str) -> None:
    path, status, heading = PAGE_TYPES[name]

    assert _open(phone, path) == (status, heading)
    screenshot(phone, f"portal-{name}-390px")
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
