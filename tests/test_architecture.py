"""The shape of the code, checked like its behaviour: module and function sizes, the service
door free of queries, no module name that needs an alias, and the architecture document
naming every package and module (docs/architecture.md's table)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "civicstat"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

DRIVERS = {"web", "cli", "worker"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Migrations are the frozen record of how each schema came to be: they are written once and
# never edited, so an upgrade from an old release replays exactly what that release ran.
FROZEN = SRC / "metadata" / "migrations" / "versions"


def _modules() -> Iterator[Path]:
    for path in sorted(SRC.rglob("*.py")):
        if FROZEN not in path.parents:
            yield path


def _name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_is_over_400_lines() -> None:
    long = {_name(p): n for p in _modules() if (n := p.read_text().count("\n")) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_over_80_lines() -> None:
    long: dict[str, int] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{_name(path)}.{node.name}"] = lines
    assert long == {}


QUERY = re.compile(r"\b(select|insert|update|delete)\(|\.(execute|scalars?|scalar_one)\(|\.query\(")


def test_services_hold_no_metadata_queries() -> None:
    """The door checks, calls and shapes: queries live in metadata's repositories."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((SRC / "services").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if QUERY.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == []


def _imported_modules(path: Path) -> list[str]:
    """The civicstat modules a file imports as module objects (``from pkg import module``)."""
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if node.module.startswith("civicstat") and _exists(full):
                    out.append(full)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("civicstat.")]
    return out


def _exists(module: str) -> bool:
    base = SRC.parent.joinpath(*module.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_no_file_needs_an_alias_for_two_modules_of_one_name() -> None:
    """Same-named modules in different layers (``push`` ×3 once) forced ``import … as``."""
    clashes: dict[str, list[str]] = {}
    for path in _modules():
        # Below the drivers a module counts as importing its own name: `datasets.current(…)`
        # inside another `datasets` module reads as a call to itself. A page or a command
        # named after the service it presents (web/pages/plan.py → services.plan) is a pair.
        own = _name(path)
        driver = own.split(".")[1] in DRIVERS
        by_name: dict[str, set[str]] = {} if driver else {own.rsplit(".", 1)[-1]: {own}}
        for module in _imported_modules(path):
            by_name.setdefault(module.rsplit(".", 1)[-1], set()).add(module)
        for name, modules in by_name.items():
            if len(modules) > 1:
                clashes[f"{_name(path)}: {name}"] = sorted(modules)
    assert clashes == {}


def _documented() -> set[str]:
    """The dotted names in the first column of docs/architecture.md's package table."""
    return set(re.findall(r"^\| `(civicstat[\w.]*)`", ARCHITECTURE.read_text(), re.M))


def _packages_and_modules() -> set[str]:
    return {
        _name(p)
        for p in SRC.rglob("*.py")
        if FROZEN not in p.parents and p.parent != FROZEN and "migrations" not in p.parts
    } | {"civicstat.metadata.migrations"}


def test_architecture_document_names_every_package_and_module() -> None:
    missing = sorted(_packages_and_modules() - _documented())
    assert missing == [], f"add to the table in {ARCHITECTURE.name}: {missing}"


def test_architecture_document_names_nothing_that_is_gone() -> None:
    gone = sorted(_documented() - _packages_and_modules())
    assert gone == [], f"remove from the table in {ARCHITECTURE.name}: {gone}"


def _contract_layers() -> list[str]:
    """The layers of .importlinter's layers contract, top first."""
    config = (ROOT / ".importlinter").read_text()
    block = config.split("[importlinter:contract:layers]", 1)[1].split("\n[", 1)[0]
    listed = block.split("layers =", 1)[1]
    return [line.strip() for line in listed.splitlines() if line.startswith("    ")]


def test_architecture_document_draws_the_enforced_layers() -> None:
    """The picture that opens docs/architecture.md is the contract `make lint` enforces."""
    picture = ARCHITECTURE.read_text().split("```", 2)[1]
    drawn = [line.strip() for line in picture.splitlines() if line.strip()]
    layers = [layer.replace(" | ", "  ") for layer in _contract_layers()]
    assert [line for line in drawn if line in layers] == layers
