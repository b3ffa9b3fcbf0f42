"""`civicstat demo DIR --no-serve`: the Riverton city built end to end, as `make demo` does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from civicstat.governance.actors import operator
from civicstat.services import plan as plan_service
from civicstat.services.context import Context
from civicstat.settings import Settings

CLI = [sys.executable, "-m", "civicstat.cli"]


@pytest.mark.slow
def test_demo_builds_a_city_whose_plan_has_values_and_a_mix_of_statuses(tmp_path: Path) -> None:
    root = tmp_path / "riverton"
    result = subprocess.run(
        [*CLI, "demo", str(root), "--no-serve", "--calls", "60000"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Sign in at http://127.0.0.1:8000/login as admin" in result.stdout.replace("\n", " ")
    assert "public portal is at http://127.0.0.1:8000/portal" in result.stdout
    approved = "approved for the public portal: pct-911-answered-10s, pct-911-answered-20s, "
    assert approved in result.stdout.replace("\n", " ")
    credentials = (root / ".civicstat" / "demo-credentials").read_text().split()
    assert credentials[0] == "admin"
    assert len(credentials[1]) >= 16  # random per workspace, never a shipped default
    assert (root / ".civicstat" / "demo-credentials").stat().st_mode & 0o077 == 0

    ctx = Context(Settings(workspace=root))
    try:
        view = plan_service.get_plan(ctx, operator("pytest"))
    finally:
        ctx.close()
    objectives = [o for goal in view.goals for o in goal.objectives]
    assert len(view.goals) >= 3
    assert len(objectives) >= 6
    assert len({o.department for o in objectives}) >= 3
    assert all(o.latest is not None and o.latest.value is not None for o in objectives)
    assert {o.status for o in objectives} >= {"on_target", "off_target"}

    again = subprocess.run(
        [*CLI, "demo", str(root), "--no-serve"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "unchanged: no new revision" in again.stdout  # a rebuilt demo keeps its workspace
    assert "approved for the public portal" not in again.stdout  # approved once, audited once
