"""`civicstat` as a person runs it: the commands, their output, their exit codes.

Most tests drive the Typer app in-process with ``CliRunner``; a few run the installed
``civicstat`` script, to see exactly what a shell or a CI log sees. Every workspace is the
example ``civicstat init`` writes, in ``tmp_path``, with its default SQLite metadata store.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from civicstat import cli
from civicstat.cli import app
from civicstat.governance.actors import Role
from civicstat.metadata import data_versions
from civicstat.services.accounts import sign_in as sign_in_service
from civicstat.services.context import Context
from civicstat.settings import Settings

ISSUE_LINE = re.compile(r"^(?P<path>[\w./-]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PASSWORD = "correct horse battery staple"
SCRIPT = Path(sys.executable).with_name("civicstat")


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CIVICSTAT_* setting from the caller's shell, and output as a pipe gets it."""
    for name in list(os.environ):
        if name.startswith("CIVICSTAT_") or name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "80")


def civicstat(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)
    return result


def stdout_of(result: Result) -> str:
    return ANSI.sub("", result.stdout)


def stderr_of(result: Result) -> str:
    return ANSI.sub("", result.stderr)


def run_script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed ``civicstat`` script, with no terminal: as in a pipe, cron or CI."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "millbrook"
    result = civicstat("init", root)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def applied(workspace: Path) -> Path:
    result = civicstat("apply", workspace)
    assert result.exit_code == 0, result.output
    return workspace


@pytest.fixture
def context(applied: Path) -> Iterator[Context]:
    """A context on the same workspace, for looking at what the commands stored."""
    ctx = Context(Settings(workspace=applied))
    yield ctx
    ctx.close()


# --- init, validate, schema -------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    from civicstat import __version__

    result = civicstat("version")
    assert result.exit_code == 0
    assert stdout_of(result).strip() == __version__


def test_init_writes_a_complete_example_workspace(tmp_path: Path) -> None:
    root = tmp_path / "new-city"
    result = civicstat("init", root)
    assert result.exit_code == 0, result.output
    for name in ("civicstat.yaml", "plan.yaml", "governance.yaml", "data/service_requests.csv"):
        assert (root / name).is_file(), f"init did not write {name}"
    assert sorted(p.name for p in (root / "measures").glob("*.yaml"))
    assert sorted(p.name for p in (root / "sources").glob("*.yaml"))
    assert "civicstat validate" in " ".join(stdout_of(result).split())


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me", encoding="utf-8")
    result = civicstat("init", root)
    assert result.exit_code == 1
    message = " ".join(stderr_of(result).split())
    assert message.startswith("error:")
    assert "not empty" in message
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    assert (root / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_validate_prints_a_one_line_summary_for_the_example(workspace: Path) -> None:
    result = civicstat("validate", workspace)
    assert result.exit_code == 0, result.output
    assert stdout_of(result).splitlines() == [
        "millbrook: valid — 2 goals, 3 objectives, 14 measures, 1 source, 4 departments"
    ]
    assert result.stderr == ""


def _plant_three_problems(root: Path) -> set[tuple[str, int, int]]:
    """A YAML syntax error, an unknown key and a dangling measure reference.

    Returns the (path, line, column) each one must be reported at.
    """
    (root / "measures" / "broken.yaml").write_text(
        "id: broken\ntitle: Broken\n  dataset: service_requests\n", encoding="utf-8"
    )
    settings = root / "civicstat.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("\ntimezone:", "\ncolour: blue\ntimezone:", 1), "utf-8")
    colour_line = settings.read_text(encoding="utf-8").splitlines().index("colour: blue") + 1

    plan = root / "plan.yaml"
    text = plan.read_text(encoding="utf-8").replace(
        "measure: pct-requests-closed-on-time", "measure: pct-requests-closed-late", 1
    )
    plan.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    plan_line = next(i for i, line in enumerate(lines) if "pct-requests-closed-late" in line)
    plan_column = lines[plan_line].index("pct-requests-closed-late") + 1
    return {
        ("measures/broken.yaml", 3, 10),
        ("civicstat.yaml", colour_line, 1),
        ("plan.yaml", plan_line + 1, plan_column),
    }


def test_validate_reports_every_problem_as_file_line_column(workspace: Path) -> None:
    expected = _plant_three_problems(workspace)
    result = civicstat("validate", workspace)
    assert result.exit_code == 2
    assert stdout_of(result) == ""
    lines = stderr_of(result).splitlines()
    assert lines[-1] == "3 problem(s) found"
    issues = [ISSUE_LINE.match(line) for line in lines[:-1]]
    assert all(issues), f"not file:line:column: message: {lines[:-1]}"
    places = {(m["path"], int(m["line"]), int(m["column"])) for m in issues if m}
    assert places == expected
    messages = {m["path"]: m["message"] for m in issues if m}
    assert messages["measures/broken.yaml"].startswith("YAML syntax error")
    assert messages["civicstat.yaml"].startswith("unknown key 'colour'")
    assert "'pct-requests-closed-late' not in measures/" in messages["plan.yaml"]
    assert "did you mean 'pct-requests-closed-on-time'" in messages["plan.yaml"]


def test_schema_prints_json_schema_with_every_file_model() -> None:
    result = civicstat("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"WorkspaceFile", "PlanFile", "GovernanceFile", "Measure", "Source"} <= set(
        schema["$defs"]
    )
    assert schema["x-civicstat-files"]["measures/*.yaml"] == {"$ref": "#/$defs/Measure"}


def test_installed_script_prints_the_schema_on_stdout_only() -> None:
    completed = run_script("schema")
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "$defs" in json.loads(completed.stdout)


# --- apply, ingest, compute, runs -------------------------------------------------------


def test_apply_twice_stores_one_revision(workspace: Path) -> None:
    first = civicstat("apply", workspace)
    assert first.exit_code == 0, first.output
    assert re.fullmatch(r"revision 1: \d+ added, 0 changed, 0 retired\n", stdout_of(first))
    second = civicstat("apply", workspace)
    assert second.exit_code == 0, second.output
    assert stdout_of(second) == "unchanged: no new revision\n"


def test_ingest_of_a_source_needs_an_applied_plan(workspace: Path) -> None:
    result = civicstat("ingest", "service_requests", "-w", workspace)
    assert result.exit_code == 1
    assert stderr_of(result) == "error: no plan applied yet: run 'civicstat apply' first\n"


def test_ingest_of_all_sources_needs_an_applied_plan(workspace: Path) -> None:
    result = civicstat("ingest", "-w", workspace)
    assert result.exit_code == 1
    assert "civicstat apply" in stderr_of(result)


def test_ingest_then_compute_print_rows_and_observations(applied: Path) -> None:
    ingested = civicstat("ingest", "-w", applied, "--no-recompute")
    assert ingested.exit_code == 0, ingested.output
    assert stdout_of(ingested) == "service_requests: 300 rows → service_requests@1 (run 1)\n"

    computed = civicstat("compute", "-w", applied)
    assert computed.exit_code == 0, computed.output
    lines = stdout_of(computed).splitlines()
    measures = sorted(p.stem for p in (applied / "measures").glob("*.yaml"))
    assert len(lines) == len(measures) == 14
    for line in lines:
        match = re.fullmatch(r"([\w-]+): (\d+) observations \(service_requests@1\)", line)
        assert match, line
        assert int(match.group(2)) > 0
    # Inputs come before the measures built from them.
    order = [line.split(":")[0] for line in lines]
    assert order.index("requests-received") < order.index("pothole-share-of-requests")
    assert order.index("potholes-reported") < order.index("pothole-share-of-requests")

    again = civicstat("compute", "pct-requests-closed-on-time", "-w", applied)
    assert stdout_of(again) == (
        "pct-requests-closed-on-time: unchanged (service_requests@1)\n"
        "requests-not-closed-on-time: unchanged (service_requests@1)\n"  # built from it
    )


def test_ingest_recomputes_the_measures_over_its_dataset(applied: Path) -> None:
    result = civicstat("ingest", "service_requests", "-w", applied)
    assert result.exit_code == 0, result.output
    first, *measures = stdout_of(result).splitlines()
    assert first == "service_requests: 300 rows → service_requests@1 (run 1)"
    names = {line.split(":")[0].strip() for line in measures}
    assert {"pct-potholes-repaired-on-time", "pct-requests-closed-on-time"} <= names
    assert "pothole-share-of-requests" in names  # built from measures over the dataset
    assert all(re.search(r": \d+ observations$", line) for line in measures)


def test_runs_lists_the_ingest_run(applied: Path) -> None:
    civicstat("ingest", "-w", applied)
    result = civicstat("runs", "-w", applied)
    assert result.exit_code == 0, result.output
    lines = stdout_of(result).splitlines()
    assert len(lines) == 1
    assert re.match(
        r"^\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+service_requests\s+succeeded", lines[0]
    )
    assert lines[0].rstrip().endswith("300 rows")


def test_ingest_of_an_unknown_source_is_one_line_and_exit_1(applied: Path) -> None:
    result = civicstat("ingest", "no-such-source", "-w", applied)
    assert result.exit_code == 1
    assert stderr_of(result) == "error: unknown source 'no-such-source' (known: service_requests)\n"
    assert stdout_of(civicstat("runs", "-w", applied)) == ""


def _break_line_five(root: Path) -> None:
    """Line 5 of the CSV (the header is line 1) gets a created_at that is not a timestamp,
    and the source allows no bad row at all (``max_bad_rows: 0``), so the run fails."""
    spec = root / "sources" / "service_requests.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "\nload: {mode: replace, max_bad_rows: 0}\n")
    assert civicstat("apply", root).exit_code == 0
    csv = root / "data" / "service_requests.csv"
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = lines[4].split(",")
    fields[3] = "not-a-date"  # request_id,request_type,district,created_at,...
    lines[4] = ",".join(fields)
    csv.write_text("".join(lines), encoding="utf-8")


def test_a_value_that_does_not_fit_its_type_fails_the_run_and_keeps_the_published_version(
    applied: Path, context: Context
) -> None:
    assert civicstat("ingest", "-w", applied).exit_code == 0
    _break_line_five(applied)

    result = civicstat("ingest", "-w", applied)
    assert result.exit_code == 1
    assert stdout_of(result) == ""
    message = stderr_of(result)
    assert "service_requests: failed (run 2)" in message
    assert (
        "1 of 300 rows (0.3%) do not fit the declared schema, more than the 0% allowed" in message
    )
    assert "service_requests.csv:5: column 'created_at': 'not-a-date' is not a valid timestamp" in (
        message
    )

    runs = stdout_of(civicstat("runs", "-w", applied)).splitlines()
    assert [line.split()[0] for line in runs] == ["2", "1"]
    assert re.search(r"\bservice_requests\s+failed\s+0 rows", runs[0])
    assert re.search(r"\bservice_requests\s+succeeded\s+300 rows", runs[1])

    with context.db.session() as session:
        current = data_versions.current(session, "service_requests")
        assert current is not None
        assert (current.version, current.run_id, current.row_count) == (1, 1, 300)


def test_runs_says_where_a_failed_run_failed(applied: Path) -> None:
    civicstat("ingest", "-w", applied)
    _break_line_five(applied)
    civicstat("ingest", "-w", applied)
    failed = stdout_of(civicstat("runs", "-w", applied, "--limit", "1"))
    assert "service_requests.csv:5" in failed


def test_ingest_in_a_pipe_prints_the_result_lines_and_no_progress(applied: Path) -> None:
    completed = run_script("ingest", "-w", applied, "--no-recompute")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "service_requests: 300 rows → service_requests@1 (run 1)\n"
    assert completed.stderr == ""


def test_ingest_progress_on_a_terminal_is_a_bar_with_the_phase_and_share_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(cli, "err", terminal)
    with cli.ingest_progress("calls") as show:
        assert show is not None
        show("fetching")  # no size known: the bar sweeps, no share is shown
        show("loading", 0.0)
        show("loading", 0.5)
    frames = screen.getvalue().replace("\r", "\n")
    assert re.search(r"calls loading ━+[╸╺]?━* +50% 0:00:0\d", frames), frames


# --- users ------------------------------------------------------------------------------


def test_users_add_creates_a_user_who_can_sign_in(applied: Path, context: Context) -> None:
    env = {"DANA_PASSWORD": PASSWORD}
    args = ("users", "add", "dana", "--role", "analyst", "--password-env", "DANA_PASSWORD")
    result = civicstat(*args, "-w", applied, env=env)
    assert result.exit_code == 0, result.output
    assert stdout_of(result) == "user dana added (analyst)\n"

    actor = sign_in_service.authenticate(context, "dana", PASSWORD)
    assert actor is not None
    assert actor.role is Role.ANALYST

    again = civicstat(*args, "-w", applied, env=env)
    assert again.exit_code == 1
    assert stderr_of(again) == "error: user 'dana' already exists\n"


def test_users_add_refuses_a_short_password(applied: Path, context: Context) -> None:
    args = ("users", "add", "dana", "--role", "analyst", "--password-env", "DANA_PASSWORD")
    result = civicstat(*args, "-w", applied, env={"DANA_PASSWORD": "short"})
    assert result.exit_code == 1
    assert stderr_of(result) == "error: a password needs at least 12 characters\n"
    assert sign_in_service.authenticate(context, "dana", "short") is None
    # Nothing was stored: the same name can still be added.
    retry = civicstat(*args, "-w", applied, env={"DANA_PASSWORD": PASSWORD})
    assert retry.exit_code == 0, retry.output


def test_users_add_with_an_empty_password_variable_fails(applied: Path) -> None:
    args = ("users", "add", "dana", "--password-env", "DANA_PASSWORD", "-w", applied)
    result = civicstat(*args, env={"DANA_PASSWORD": ""})
    assert result.exit_code == 1
    assert stderr_of(result) == "error: environment variable DANA_PASSWORD is empty\n"


# --- known defects ----------------------------------------------------------------------


def test_validate_summary_stays_one_line_in_a_pipe(workspace: Path) -> None:
    settings = workspace / "civicstat.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("name: millbrook", "name: millbrook-township-north"), "utf-8")
    completed = run_script("validate", workspace)
    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout.splitlines()) == 1, completed.stdout


def test_validate_rejects_a_target_that_is_not_a_finite_number(workspace: Path) -> None:
    plan = workspace / "plan.yaml"
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("{value: 85,", "{value: .inf,", 1), encoding="utf-8")
    result = civicstat("validate", workspace)
    assert result.exit_code == 2
