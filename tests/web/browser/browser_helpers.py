"""What the browser tests share: the served city, screenshots, and axe-core's verdict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOTS = Path(__file__).parent / "screenshots"  # git-ignored: for people to look at
# The head of Emergency Communications, who signs its performance agreement.
HEAD_USERNAME = "ec-head"
HEAD_PASSWORD = "riverton department head test password"


@dataclass(frozen=True)
class LiveCity:
    root: Path
    base_url: str


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's findings of impact serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
