"""`civicstat measures approve` and `civicstat access …` as an operator runs them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from civicstat.cli import app

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CIVICSTAT_") or name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")


def civicstat(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def out(result: Result) -> str:
    return ANSI.sub("", result.stdout)


def err(result: Result) -> str:
    return ANSI.sub("", result.stderr)


@pytest.fixture
def confidential(tmp_path: Path) -> Path:
    """The example workspace with its 311 data confidential, and an analyst in parks."""
    root = tmp_path / "millbrook"
    assert civicstat("init", root).exit_code == 0
    source = root / "sources" / "service_requests.yaml"
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("classification: public", "classification: confidential"))
    assert civicstat("apply", root).exit_code == 0
    add = ("users", "add", "pat", "--role", "analyst", "--department", "parks-recreation")
    result = civicstat(*add, "--password-env", "PW", "-w", root, env={"PW": PASSWORD})
    assert result.exit_code == 0, result.output
    return root


def test_an_operator_files_approves_and_lists_an_access_request(confidential: Path) -> None:
    asked = civicstat(
        "access", "request", "service_requests", "--user", "pat",
        "--reason", "Parks study", "--days", "20", "-w", confidential,
    )  # fmt: skip
    assert asked.exit_code == 0, asked.output
    assert out(asked) == "access request 1: pat → service_requests, pending\n"

    approved = civicstat("access", "approve", "1", "--days", "14", "-w", confidential)
    assert approved.exit_code == 0, approved.output
    assert re.fullmatch(
        r"access request 1 approved until \d{4}-\d\d-\d\d \d\d:\d\d UTC\n", out(approved)
    )

    listed = civicstat("access", "list", "--status", "approved", "-w", confidential)
    assert listed.exit_code == 0
    [line] = out(listed).splitlines()
    assert line.split()[:4] == ["1", "service_requests", "pat", "approved"]
    assert re.search(r"\(in force\) +until \d{4}-\d\d-\d\d +Parks study$", line)

    again = civicstat("access", "deny", "1", "-w", confidential)
    assert again.exit_code == 1
    assert err(again) == "error: access request 1 is already approved\n"


def test_a_request_needs_a_reason(confidential: Path) -> None:
    result = civicstat(
        "access", "request", "service_requests", "--user", "pat", "--reason", " ",
        "-w", confidential,
    )  # fmt: skip

    assert result.exit_code == 1
    assert "a reason is required" in err(result)


def test_measures_approve_approves_once(confidential: Path) -> None:
    first = civicstat(
        "measures", "approve", "requests-received", "--note", "Board", "-w", confidential
    )
    second = civicstat("measures", "approve", "requests-received", "-w", confidential)

    assert first.exit_code == second.exit_code == 0
    assert out(first).startswith("measure requests-received approved for publication")
    assert "data confidential" in out(first)
    assert "was already approved" in out(second)
    unknown = civicstat("measures", "approve", "nope", "-w", confidential)
    assert unknown.exit_code == 1
    assert err(unknown) == "error: no measure 'nope'\n"
