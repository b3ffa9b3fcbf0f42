"""A real browser on the real app: Debian's Chromium driven by Playwright, against
``civicstat serve`` in its own process on a small Riverton (the demo city, 20,000 calls).

Skips on a machine without Chromium or Playwright; fails under ``CI=true``. Never downloads
a browser: Playwright launches the system's Chromium by path.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import httpx
import pytest
from browser_helpers import HEAD_PASSWORD, HEAD_USERNAME, LiveCity

from civicstat.demo.riverton import write_workspace
from civicstat.governance.actors import Role, operator
from civicstat.services import ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import users
from civicstat.services.context import Context
from civicstat.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("CIVICSTAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # else Chromium keeps calling outside hosts
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TESTS = Path(__file__).resolve().parents[2]
USERNAME = "performance-office"
PASSWORD = "riverton browser test password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def unavailable(config: pytest.Config, reason: str) -> NoReturn:
    """tests/conftest.py's ``unavailable``: skip here, fail under CI=true. Every conftest
    module is named ``conftest``, so it is found through pytest's registry of them."""
    root = config.pluginmanager.get_plugin(str(TESTS / "conftest.py"))
    root.unavailable(reason)
    raise AssertionError("unreachable: unavailable() skips or fails")


@pytest.fixture(scope="session")
def chromium(pytestconfig: pytest.Config) -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        unavailable(pytestconfig, f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        unavailable(pytestconfig, f"{error.name} not installed (pip install -e '.[test]')")
    return found


@pytest.fixture(scope="session")
def city(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCity]:
    """Riverton, applied and ingested through the services, served by ``civicstat serve``."""
    root = tmp_path_factory.mktemp("riverton")
    write_workspace(root, calls=20_000)
    ctx = Context(Settings(workspace=root))
    try:
        ctx.migrate()
        admin = operator("pytest")
        workspace_service.apply(ctx, admin)
        for source in ("calls_911", "service_requests", "permits"):
            ingest.ingest(ctx, admin, source)
        users.add_user(ctx, admin, username=USERNAME, password=PASSWORD, role=Role.ADMIN)
        users.add_user(
            ctx, admin, username=HEAD_USERNAME, password=HEAD_PASSWORD,
            role=Role.DEPARTMENT_HEAD, department="emergency-communications",
        )  # fmt: skip
    finally:
        ctx.close()
    port = _free_port()
    log = (root / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "civicstat.cli", "serve", "-w", str(root), "--port", str(port),
         "--no-scheduler"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((root / "serve.log").read_text())
            time.sleep(0.2)
        yield LiveCity(root, base)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, city: LiveCity) -> Iterator[Page]:
    """A new browser window, signed in through the sign-in form, on the overview."""
    context = browser.new_context(base_url=city.base_url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.goto("/")
    assert "/login" in opened.url
    opened.get_by_label("User name").fill(USERNAME)
    opened.get_by_label("Password").fill(PASSWORD)
    opened.get_by_role("button", name="Sign in").click()
    opened.wait_for_url(f"{city.base_url}/")
    yield opened
    context.close()
