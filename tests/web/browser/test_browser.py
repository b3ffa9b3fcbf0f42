"""CivicStat in a real browser: a leader walks from the overview to a slice of a measure,
every page type passes axe-core with no serious or critical violation, the keyboard alone
reaches everything, the plan prints on one page, and an open page updates by itself when an
ingest in another process lands new data. A screenshot of each page type is saved in
``screenshots/`` (git-ignored) for a person to look at."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
from browser_helpers import (
    HEAD_PASSWORD,
    HEAD_USERNAME,
    LiveCity,
    screenshot,
    serious_violations,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

MEASURE = "pct-911-answered-10s"
MEASURE_TITLE = "Share of 911 calls answered within 10 seconds"
EC = "Emergency Communications (911)"
# page type → (path, the status it answers, its heading): checked before axe runs, so that a
# sign-in form or an error page reached instead cannot pass for the page.
PAGE_TYPES: dict[str, tuple[str, int, str]] = {
    "overview": ("/", 200, "Riverton Strategic Plan"),
    "plan": ("/plan", 200, "Riverton Strategic Plan"),
    "goal": ("/goals/safe-neighborhoods", 200, "Safe neighborhoods"),
    "departments": ("/departments", 200, "Departments"),
    "department": ("/departments/emergency-communications", 200, EC),
    "measure": (f"/measures/{MEASURE}", 200, MEASURE_TITLE),
    "measure-slice": (
        f"/measures/{MEASURE}?slice=district%3DHarbor&sort=value&dir=desc",
        200,
        f"{MEASURE_TITLE} · district=Harbor",
    ),
    "runs": ("/runs", 200, "Source runs and quality checks"),
    "audit": ("/audit?verify=true", 200, "Audit log"),
    "catalog": ("/catalog", 200, "Data catalog"),
    "admin": ("/admin", 200, "Governance administration"),
    "agreement": (
        "/departments/emergency-communications/agreement",
        200,
        f"Performance agreement: {EC}",
    ),
    "objective": ("/objectives/answer-911-fast", 200, "Answer 90% of 911 calls within 10 seconds"),
    "stat": ("/stat", 200, "Stat meeting"),
    "not-found": ("/goals/no-such-goal", 404, "Not found"),
}


def _open(page: Page, path: str) -> tuple[int, str]:
    """Go to ``path``; the status it answered with (a redirect fails here) and its heading."""
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
          const style = getComputedStyle(e);
          return {tag: e.tagName.toLowerCase(), text: (e.innerText || '').trim(),
                  href: e.getAttribute('href'), outline: style.outlineStyle,
                  outlineWidth: style.outlineWidth};
        }"""
    )
    return found


def test_a_leader_walks_from_the_overview_to_a_slice_of_a_measure(page: Page) -> None:
    assert page.get_by_role("heading", level=1).inner_text() == "Riverton Strategic Plan"
    screenshot(page, "walk-1-overview")

    page.get_by_role("link", name="Safe neighborhoods").first.click()
    page.wait_for_url("**/goals/safe-neighborhoods")
    assert page.get_by_role("heading", level=1).inner_text() == "Safe neighborhoods"
    screenshot(page, "walk-2-goal")

    page.get_by_role("link", name="Answer 90% of 911 calls within 10 seconds").first.click()
    page.wait_for_url(f"**/measures/{MEASURE}")
    chart = page.locator("svg.chart").first
    assert chart.is_visible()
    assert "against a target of 90.0%" in (chart.locator("desc").text_content() or "")
    screenshot(page, "walk-3-measure")

    breakdown = page.locator("#breakdown")
    breakdown.get_by_role("link", name=re.compile("^Value")).click()
    page.wait_for_url(re.compile(r"sort=value"))
    values = page.locator("#breakdown tbody tr:not(.total) td:nth-child(2)").all_inner_texts()
    numbers = [float(v.rstrip("%")) for v in values if v != "—"]
    assert numbers == sorted(numbers, reverse=True)
    page.locator("#breakdown").get_by_role("link", name="Harbor", exact=True).click()
    page.wait_for_url(re.compile(r"slice=district%3DHarbor"))
    assert "district=Harbor" in page.get_by_role("heading", level=1).inner_text()
    assert "district=Harbor" in (page.locator("svg.chart title").first.text_content() or "")
    screenshot(page, "walk-4-breakdown")


@pytest.mark.parametrize("name", list(PAGE_TYPES))
def test_no_page_has_a_serious_accessibility_violation(page: Page, name: str) -> None:
    path, status, heading = PAGE_TYPES[name]

    assert _open(page, path) == (status, heading)
    screenshot(page, name)
    assert serious_violations(page) == []


def test_the_sign_in_page_has_no_serious_accessibility_violation(
    page: Page, city: LiveCity
) -> None:
    page.context.clear_cookies()

    assert _open(page, "/login") == (200, "Sign in")
    screenshot(page, "sign-in")
    assert serious_violations(page) == []


def test_the_keyboard_alone_reaches_the_main_links_with_a_visible_focus(page: Page) -> None:
    page.keyboard.press("Tab")
    first = _focused(page)
    assert first["text"] == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.goto("/")
    reached = []
    for _ in range(200):  # through the whole page, to where focus leaves it
        page.keyboard.press("Tab")
        focused = _focused(page)
        if focused["tag"] == "body":
            break
        reached.append(focused)
        assert focused["outline"] != "none", f"no visible focus on {focused}"
    hrefs = {f["href"] for f in reached}
    assert {"/", "/plan", "/departments", "/runs", "/audit"} <= hrefs
    assert "/goals/safe-neighborhoods" in hrefs
    assert f"/measures/{MEASURE}" in hrefs


def test_the_breakdown_sorts_and_the_slice_form_works_from_the_keyboard(page: Page) -> None:
    page.goto(f"/measures/{MEASURE}")
    sort_link = page.locator("#breakdown thead a").nth(1)  # Value
    sort_link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"sort=value"))
    assert page.locator('#breakdown th[aria-sort="descending"]').count() == 1

    page.locator("#slice").focus()
    page.keyboard.press("End")  # the last slice
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"slice=district%3D"))
    assert page.get_by_role("heading", level=2, name=re.compile("^Trend for district=")).count()


def test_the_plan_prints_on_one_page(page: Page) -> None:
    page.goto("/plan")
    page.emulate_media(media="print")

    pdf = page.pdf(prefer_css_page_size=True, print_background=True)

    pages = re.findall(rb"/Type\s*/Page(?!s)", pdf)
    assert len(pages) == 1


def test_an_open_page_updates_when_an_ingest_in_another_process_lands(
    page: Page, city: LiveCity
) -> None:
    measure = "pct-trade-permits-2d"
    page.goto(f"/measures/{measure}")
    page.wait_for_function("window.EventSource !== undefined")
    page.wait_for_timeout(1500)  # the page's event stream is open
    before = page.locator("dl.facts .big").inner_text()
    assert page.locator("main[data-updated]").count() == 0

    # Every trade permit now took a day longer: fewer were issued within two days.
    permits = city.root / "data" / "permits.parquet"
    slower = permits.with_suffix(".new.parquet")
    rows = duckdb.read_parquet(str(permits))
    rows.project("* REPLACE (review_days + 1 AS review_days)").write_parquet(str(slower))
    slower.replace(permits)
    done = subprocess.run(
        [sys.executable, "-m", "civicstat.cli", "ingest", "permits", "-w", str(city.root)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    page.wait_for_selector("main[data-updated]", timeout=30_000)
    after = page.locator("dl.facts .big").inner_text()
    assert after != before
    assert page.locator("#live-status").inner_text().startswith("Updated with new data")
    screenshot(page, "live-update")


def test_a_department_head_signs_the_agreement_and_adds_an_action_item(
    browser: Browser, city: LiveCity
) -> None:
    context = browser.new_context(base_url=city.base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto("/departments/emergency-communications")
        page.get_by_label("User name").fill(HEAD_USERNAME)
        page.get_by_label("Password").fill(HEAD_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/departments/emergency-communications")
        page.get_by_role("link", name="Performance agreement").click()
        page.wait_for_url("**/agreement")
        if page.get_by_role("button", name="Draft from the plan").count():
            page.get_by_role("button", name="Draft from the plan").click()
            page.wait_for_url("**/agreement#draft")
        sign = page.get_by_role("button", name="Sign the agreement")
        sign.scroll_into_view_if_needed()
        screenshot(page, "agreement-draft")
        page.get_by_label(re.compile("^I commit to these objectives")).check()
        sign.click()
        page.wait_for_url("**/agreement#sign")
        assert page.get_by_text("matches the content").count() == 1
        assert page.get_by_role("button", name="Sign the agreement").count() == 0
        screenshot(page, "agreement-signed")
        assert serious_violations(page) == []

        page.goto("/objectives/answer-911-fast")
        form = page.get_by_role("group", name="Add an action item")
        form.get_by_label("What will be done").fill("Cover the night shift's vacant seats")
        form.get_by_label("Owner (user name)").fill(HEAD_USERNAME)
        form.get_by_label("Due date").fill("2026-12-31")
        form.get_by_role("button", name="Add the action item").click()
        page.wait_for_url("**/objectives/answer-911-fast#action")
        row = page.get_by_role("row", name=re.compile("Cover the night shift"))
        assert "open" in row.inner_text()
        screenshot(page, "objective-action-added")
        assert serious_violations(page) == []
    finally:
        context.close()
