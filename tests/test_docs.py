"""The docs are tested: every command, option, spec field and setting is documented.

Adding a command, a field or a setting without documenting it fails here, and the failure
names what is missing and where it should go.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from enum import Enum
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
import typer
from pydantic import BaseModel
from sqlglot import exp

from civicstat.cli import app
from civicstat.connectors import registry
from civicstat.settings import Settings
from civicstat.spec import language, models
from civicstat.spec.validate import validate_workspace

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

# The YAML files of a workspace; models reached from them are walked recursively.
SPEC_ROOTS: tuple[type[BaseModel], ...] = (
    models.WorkspaceFile,
    models.GovernanceFile,
    models.Source,
    models.Measure,
    models.PlanFile,
)
# Every model the spec page must document; the walk must find at least these.
EXPECTED_SPEC_MODELS = {
    "WorkspaceFile", "Storage", "HolidayCalendar", "GovernanceFile", "Department",
    "Suppression", "Source", "Column", "FileOptions", "CsvOptions", "Measure", "PlanFile",
    "PlanPeriod", "Goal", "Objective", "Target",
}  # fmt: skip


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def headings(text: str) -> list[tuple[int, int, str]]:
    """Each Markdown heading as (start, end, title), skipping fenced code blocks."""
    found = []
    fenced = False
    offset = 0
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6}\s+(.*)", line)):
            found.append((offset, offset + len(line), match.group(1).strip()))
        offset += len(line)
    return found


def section(text: str, title: re.Pattern[str]) -> str | None:
    """The text under the first heading matching ``title``, up to the next heading."""
    marks = headings(text)
    for index, (_, end, heading) in enumerate(marks):
        if title.search(heading):
            stop = marks[index + 1][0] if index + 1 < len(marks) else len(text)
            return text[end:stop]
    return None


# --- the command tree -------------------------------------------------------------------


def commands() -> Iterator[tuple[str, Any]]:
    """Every leaf command as ``("users add", command)``, walking groups recursively."""

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        subcommands: dict[str, Any] | None = getattr(command, "commands", None)
        if subcommands:
            for name, sub in sorted(subcommands.items()):
                yield from walk(sub, (*path, name))
        else:
            yield " ".join(path), command

    yield from walk(typer.main.get_command(app), ())


def test_the_command_tree_is_walked() -> None:
    found = dict(commands())
    assert {"init", "validate", "apply", "ingest", "compute", "users add"} <= set(found)


@pytest.mark.parametrize(("path", "command"), list(commands()), ids=[p for p, _ in commands()])
def test_every_command_has_a_documented_section(path: str, command: Any) -> None:
    text = read(DOCS / "cli.md")
    heading = re.compile(rf"`civicstat {re.escape(path)}`\s*$")
    body = section(text, heading)
    assert body is not None, f"docs/cli.md has no heading '## `civicstat {path}`'"
    missing = []
    for param in command.params:
        if param.param_type_name == "argument":
            names = [param.name.upper()]
        else:
            names = [*param.opts, *param.secondary_opts]
        missing += [name for name in names if f"`{name}" not in body]
    assert not missing, f"docs/cli.md, section `civicstat {path}`, does not document: {missing}"
    example = re.compile(rf"```sh\n[^`]*\bcivicstat {re.escape(path)}\b")
    assert example.search(body), f"docs/cli.md, section `civicstat {path}`, has no example"


# --- the spec models --------------------------------------------------------------------


def _inner_types(annotation: Any) -> Iterator[Any]:
    """The types inside ``X | None``, ``list[X]``, ``dict[str, X]`` and ``Annotated[X, ...]``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _inner_types(get_args(annotation)[0])
    elif origin in (Union, types.UnionType, list, dict, tuple, set, frozenset):
        for arg in get_args(annotation):
            yield from _inner_types(arg)
    else:
        yield annotation


def spec_models() -> list[type[BaseModel]]:
    """Every model reachable from the workspace files and the installed connectors' options."""
    roots = [*SPEC_ROOTS, *(cls.Options for _, cls in sorted(registry.available().items()))]
    seen: list[type[BaseModel]] = []
    pending = list(roots)
    while pending:
        model = pending.pop(0)
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            for inner in _inner_types(field.annotation):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    pending.append(inner)
    return seen


def allowed_values(annotation: Any) -> list[str]:
    """The values a field may take when they are a fixed list (Literal or Enum)."""
    values: list[str] = []
    for inner in _inner_types(annotation):
        if get_origin(inner) is Literal:
            values += [str(v) for v in get_args(inner)]
        elif isinstance(inner, type) and issubclass(inner, Enum):
            values += [str(member.value) for member in inner]
    return values


def test_the_spec_walk_finds_every_model() -> None:
    found = {m.__name__ for m in spec_models()}
    assert found >= EXPECTED_SPEC_MODELS, f"not reached: {EXPECTED_SPEC_MODELS - found}"


@pytest.mark.parametrize("model", spec_models(), ids=lambda m: m.__name__)
def test_every_spec_field_is_documented(model: type[BaseModel]) -> None:
    page, body = model_section(model)
    assert body is not None, f"docs/{page} has no section for {model.__name__}"
    missing = [name for name in model.model_fields if f"`{name}`" not in body]
    assert not missing, f"docs/{page}, section {model.__name__}, does not document: {missing}"


@pytest.mark.parametrize("model", spec_models(), ids=lambda m: m.__name__)
def test_every_allowed_value_is_documented(model: type[BaseModel]) -> None:
    page, body = model_section(model)
    missing = [
        f"{name}: {value}"
        for name, field in model.model_fields.items()
        for value in allowed_values(field.annotation)
        if f"`{value}`" not in (body or "")
    ]
    assert not missing, f"docs/{page}, section {model.__name__}, lacks allowed values {missing}"


def model_section(model: type[BaseModel]) -> tuple[str, str | None]:
    """Connector option models are documented in connectors.md, the rest in spec.md."""
    page = "connectors.md" if model.__module__.startswith("civicstat.connectors.") else "spec.md"
    return page, section(read(DOCS / page), re.compile(rf"\b{model.__name__}\b"))


def test_every_condition_function_is_documented() -> None:
    text = section(read(DOCS / "spec.md"), re.compile("condition language")) or ""
    # The allowlist is private to the language module; reading it keeps docs and code in step.
    functions = [
        node.key.upper()
        for node in language._ALLOWED
        if issubclass(node, exp.Func) and not issubclass(node, exp.Binary | exp.Case)
    ]
    assert "CASE WHEN" in text
    missing = [f for f in functions if f"{f}(" not in text]
    assert functions
    assert not missing, f"docs/spec.md, 'The condition language', does not list: {missing}"


def test_the_complete_example_in_the_spec_docs_validates(tmp_path: Path) -> None:
    """Each ```yaml block starting with ``# <file name>`` is written to a workspace."""
    body = section(read(DOCS / "spec.md"), re.compile("complete example"))
    assert body is not None, "docs/spec.md has no 'A complete example' section"
    blocks = re.findall(r"```yaml\n# (\S+)\n(.*?)```", body, re.DOTALL)
    written = {name for name, _ in blocks}
    assert {"civicstat.yaml", "plan.yaml", "governance.yaml"} <= written
    for name, content in blocks:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / "data").mkdir()
    csv = files("civicstat.spec.example") / "data" / "service_requests.csv"
    (tmp_path / "data" / "service_requests.csv").write_bytes(csv.read_bytes())
    workspace, issues = validate_workspace(tmp_path)
    assert issues == [], "the example in docs/spec.md does not validate:\n" + "\n".join(
        str(i) for i in issues
    )
    assert workspace is not None


# --- settings and the README ------------------------------------------------------------


def test_every_setting_is_documented_as_its_environment_variable() -> None:
    text = read(DOCS / "settings.md")
    prefix = Settings.model_config.get("env_prefix", "")
    names = [f"{prefix}{name}".upper() for name in Settings.model_fields]
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing, f"docs/settings.md does not document: {missing}"


@pytest.mark.parametrize("command", ["make demo", "make test"])
def test_readme_quick_start_shows_the_two_commands(command: str) -> None:
    quick_start = section(read(README), re.compile("Quick start")) or ""
    assert f"```sh\n{command}\n```" in quick_start, (
        f"README.md's Quick start does not show `{command}` in its own code block"
    )


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_readme_and_docs_resolve() -> None:
    pages = [README, *sorted(DOCS.glob("*.md"))]
    assert {p.name for p in pages} >= {"architecture.md", "cli.md", "spec.md", "settings.md"}
    broken = []
    for page in pages:
        for target, anchor in re.findall(
            r"\]\(((?:docs/)?[\w-]+\.md)?(?:#([\w-]+))?\)", read(page)
        ):
            linked = (page.parent / target).resolve() if target else page
            if not linked.is_file():
                broken.append(f"{page.name} → {target}")
            elif anchor and anchor not in {_anchor(h) for _, _, h in headings(read(linked))}:
                broken.append(f"{page.name} → {target}#{anchor}")
    assert not broken, f"links to missing pages or headings: {broken}"
