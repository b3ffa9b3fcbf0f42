"""`civicstat validate` and `apply` on specs built to take them down: every one is a
``file:line:column: message`` line and exit 2, within a memory limit and a time limit
(YAML bombs, and expressions, SQL queries and patterns nested past what a parser's
recursion takes).

Each run is the installed script in a child process whose address space is capped at
1 GiB (an alias bomb used to need tens of GiB), with a timeout: as CI or cron runs it.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from civicstat.spec.example import write_example

SCRIPT = Path(sys.executable).with_name("civicstat")
ISSUE_LINE = re.compile(r"^(?P<path>[\w./-]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")
MEMORY = 1 << 30
SECONDS = 120

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 9)}]\n" for n in range(9)
)
HEAD = "id: {id}\ntitle: Probe\ndataset: service_requests\ntime: created_at\n"
# What each hostile measure file is, and a word of the one issue it must get.
HOSTILE: dict[str, tuple[str | bytes, str]] = {
    "alias-bomb": (BILLION_LAUGHS, "aliases expanded"),
    "brackets": ("[" * 50_000, "nested more than 64 levels"),
    "mappings": ("{a: " * 2_000 + "1" + "}" * 2_000, "nested more than 64 levels"),
    "parentheses": (
        HEAD + "kind: share\ncondition: " + "(" * 120 + "closed_at IS NULL" + ")" * 120 + "\n",
        "nests parentheses",
    ),
    "long-chain": (
        HEAD + "kind: share\ncondition: " + " OR ".join(["district = 'north'"] * 500) + "\n",
        "operations inside one another",
    ),
    "time-vs-text": (HEAD + "kind: share\ncondition: created_at > 'soon'\n", "is not a timestamp"),
    "boolean-sum": (HEAD + "kind: sum\nvalue: closed_at IS NULL\n", "must be a number"),
    "round-digits": (
        HEAD + "kind: share\ncondition: round(1.5, district) > 1 AND district = 'x'\n",
        "round's digits",
    ),
    "python-tag": ("!!python/object/apply:os.system ['echo pwned']\n", "unsupported YAML"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 50, "not UTF-8"),
    "many-documents": ("---\nid: a\n" * 100_000, "single document"),
    "long-scalar": ("id: " + "x" * 3_000_000 + "\n", "larger than 1 MiB"),
    "fifty-megabytes": ("items:\n" + "  - {a: 1, b: two, c: [1, 2, 3]}\n" * 1_600_000, "1 MiB"),
}
SOURCE = "id: {id}\ntitle: Probe\nowner: customer-service\ncolumns: [{name: a, type: string}]\n"
# Sources whose SQL query or quality pattern nests 3,000 deep (each parser recurses).
HOSTILE_SOURCES: dict[str, tuple[str, str]] = {
    "nested_query": (
        SOURCE
        + "connector: sql\noptions:\n  url_env: ERP_URL\n  query: SELECT "
        + "(" * 3000
        + "1"
        + ")" * 3000
        + "\n",
        "nested too deeply to be checked",
    ),
    "nested_pattern": (
        SOURCE + "options: {path: data/service_requests.csv}\nquality:\n"
        "  - {check: regex, column: a, pattern: '" + "(" * 3000 + "a" + ")" * 3000 + "'}\n",
        "nests its groups too deeply",
    ),
}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_bounded(*args: str | Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICSTAT_")}
    start = time.monotonic()
    result = subprocess.run(
        [str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=SECONDS,
        preexec_fn=_limit_memory,
        check=False,
    )
    return result, time.monotonic() - start


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "millbrook"
    write_example(root)
    for name, (content, _) in HOSTILE.items():
        file = root / "measures" / f"{name}.yaml"
        if isinstance(content, bytes):
            file.write_bytes(content)
        else:
            file.write_text(content.replace("{id}", name), encoding="utf-8")
    for name, (content, _) in HOSTILE_SOURCES.items():
        (root / "sources" / f"{name}.yaml").write_text(content.replace("{id}", name))
    return root


@pytest.mark.parametrize("command", ["validate", "apply"])
def test_every_hostile_spec_file_is_one_placed_issue_and_exit_2(
    hostile: Path, command: str
) -> None:
    result, seconds = run_bounded(command, hostile)

    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == f"{len(HOSTILE) + len(HOSTILE_SOURCES)} problem(s) found"
    issues = [ISSUE_LINE.match(line) for line in lines[:-1]]
    assert all(issues), lines
    found = {m["path"]: m["message"] for m in issues if m}
    expected = {f"measures/{name}.yaml": word for name, (_, word) in HOSTILE.items()}
    expected |= {f"sources/{name}.yaml": word for name, (_, word) in HOSTILE_SOURCES.items()}
    assert set(found) == set(expected)
    for path, word in expected.items():
        assert word in found[path], (path, found[path])
    assert seconds < SECONDS


@pytest.mark.parametrize(
    ("content", "place"),
    [(BILLION_LAUGHS, "civicstat.yaml:6:4"), ("[" * 50_000, "civicstat.yaml:1:65")],
    ids=["alias-bomb", "brackets"],
)
def test_apply_reads_civicstat_yaml_with_the_same_bounds(
    tmp_path: Path, content: str, place: str
) -> None:
    root = tmp_path / "millbrook"
    write_example(root)
    (root / "civicstat.yaml").write_text(content, encoding="utf-8")

    result, _ = run_bounded("apply", root)

    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(f"{place}: unsupported YAML: ")
