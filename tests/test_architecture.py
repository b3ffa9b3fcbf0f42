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


# SQLAlchemy's statements, and a session asked to run one; an engine's own calls (the
# warehouse running an Ibis expression) are the door calling an engine, which it should.
QUERY = re.compile(
    r"(?<![.\w])(?<!def )(select|insert|update|delete|text)\("
    r"|\bsession\.(execute|scalars?|scalar_one|query|get)\("
    r"|^\s*from sqlalchemy import"
)


def test_services_hold_no_metadata_queries() -> None:
    """The door checks, calls and shapes: queries live in metadata's repositories."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((SRC / "services").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if QUERY.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == []


def _imported_modules(path: Path) -> list[tuple[str, str]]:
    """The civicstat modules a file imports as module objects, with the name each is bound
    to (``from civicstat.metrics import compute as engine`` → ("civicstat.metrics.compute",
    "engine"))."""
    out: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if node.module.startswith("civicstat") and _exists(full):
                    out.append((full, alias.asname or alias.name))
        elif isinstance(node, ast.Import):
            out += [
                (a.name, a.asname or a.name) for a in node.names if a.name.startswith("civicstat.")
            ]
    return out


def _exists(module: str) -> bool:
    base = SRC.parent.joinpath(*module.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_no_file_needs_an_alias_for_a_module_of_its_own_name() -> None:
    """Same-named modules in different layers (``push`` ×3 once) forced ``import … as``:
    a file importing two modules of one name, or renaming a module of its own name."""
    clashes: dict[str, list[str]] = {}
    for path in _modules():
        own = _name(path).rsplit(".", 1)[-1]
        by_name: dict[str, set[str]] = {}
        for module, bound in _imported_modules(path):
            name = module.rsplit(".", 1)[-1]
            by_name.setdefault(name, set()).add(module)
            if name == own and bound != name:
                clashes[f"{_name(path)}: {module} as {bound}"] = [module, _name(path)]
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
    drawn = [" ".join(line.split("←")[0].split()) for line in picture.splitlines()]
    layers = [" ".join(layer.replace("|", " ").split()) for layer in _contract_layers()]
    assert [line for line in drawn if line] == layers


PACKAGES = (
    "cli|web|worker|demo|services|pipeline|connectors|metrics|governance|metadata|warehouse"
    "|plan|spec|domain"
)
DOTTED = re.compile(rf"`((?:civicstat\.)?(?:{PACKAGES})(?:\.\w+)+)(?:\(\))?`")
PATH = re.compile(r"`((?:src/)?(?:civicstat/)?[\w/]+/\w+\.py)`")
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def _defined(path: Path) -> set[str]:
    """The names a module defines or imports at any depth (classes, functions, assignments)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return out


def _module_file(parts: list[str]) -> Path | None:
    base = SRC.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return base if base.is_dir() else None  # a folder of scripts such as migrations/


def _broken_reference(reference: str) -> str | None:
    """Why a dotted name in the docs names nothing in the code (None: it resolves)."""
    parts = reference.removeprefix("civicstat.").split(".")
    if parts[-1] in {"py", "yaml", "yml", "md", "json", "toml"}:
        return None  # a file name such as `plan.yaml`, not a module path
    for cut in range(len(parts), 0, -1):
        if (found := _module_file(parts[:cut])) is not None:
            rest = parts[cut:]
            if rest and (found.is_dir() or rest[0] not in _defined(found)):
                return f"{rest[0]} is not in {found.relative_to(ROOT)}"
            return None
    return "no such module"


def test_every_module_and_name_the_docs_cite_exists() -> None:
    """Moving code moves its docs: a cited module, function or class that is gone fails."""
    broken: list[str] = []
    for doc in DOCS:
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            for match in DOTTED.finditer(line):
                if why := _broken_reference(match.group(1)):
                    broken.append(f"{doc.name}:{number}: {match.group(1)}: {why}")
            for match in PATH.finditer(line):
                cited = match.group(1)
                anchors = (ROOT / cited, ROOT / "src" / cited, SRC / cited)
                if not any(p.exists() for p in anchors):
                    broken.append(f"{doc.name}:{number}: {cited}: no such file")
    assert broken == []
