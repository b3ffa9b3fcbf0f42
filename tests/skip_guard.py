"""A pytest plugin: under ``CI=true`` a skip or an expected failure fails the run, unless it
is a declared engine limit.

A skip hides a broken promise as well as a failure does, only more quietly. The one
exception is an engine difference declared with ``@pytest.mark.engine_limit("why")``: this
plugin makes it a strict expected failure, so it fails as soon as the engine can do it.
Registered by tests/conftest.py; tests/test_skip_guard.py runs it on small suites.
"""

from __future__ import annotations

import os

import pytest

ENGINE_LIMIT = "engine_limit"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{ENGINE_LIMIT}(reason): an engine cannot do this yet; a strict expected failure, "
        "the only skip or xfail allowed under CI=true",
    )
    config.pluginmanager.register(SkipGuard(enforce=in_ci()), "civicstat-skip-guard")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A declared engine limit is a strict expected failure, whatever else is marked."""
    for item in items:
        limit = item.get_closest_marker(ENGINE_LIMIT)
        if limit is not None:
            reason = limit.kwargs.get("reason") or (limit.args[0] if limit.args else "")
            if not reason:
                raise pytest.UsageError(f"{item.nodeid}: an engine limit says why (reason)")
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"engine limit: {reason}"))


class SkipGuard:
    """Collects the skips and expected failures that are not declared engine limits, and
    under CI fails the run with a list of them."""

    def __init__(self, *, enforce: bool) -> None:
        self.enforce = enforce
        self.found: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self.found.append(f"{report.nodeid or '<collection>'}: skipped: {_why(report)}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        expected_failure = hasattr(report, "wasxfail")
        if expected_failure and ENGINE_LIMIT in report.keywords:
            return
        if expected_failure:
            outcome = "xfailed" if report.skipped else "xpassed"
            self.found.append(f"{report.nodeid}: {outcome}: {report.wasxfail or 'no reason'}")
        elif report.skipped:
            self.found.append(f"{report.nodeid}: skipped: {_why(report)}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.enforce and self.found:
            terminalreporter.section("skips and expected failures (CI=true)", red=True)
            terminalreporter.line(
                f"{len(self.found)} not allowed under CI=true (only @pytest.mark."
                f"{ENGINE_LIMIT} may fail as expected):",
                red=True,
            )
            for line in self.found:
                terminalreporter.line(f"  {line}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # pytest exits with session.exitstatus as it stands after this hook.
        if (
            self.enforce
            and self.found
            and session.exitstatus
            in (
                pytest.ExitCode.OK,
                pytest.ExitCode.NO_TESTS_COLLECTED,
            )
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _why(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
