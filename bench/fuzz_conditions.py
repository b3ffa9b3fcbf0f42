"""bench/fuzz_conditions: coverage-guided fuzzing of what a workspace author writes.

    pip install atheris   # not a dependency of CivicStat: only this campaign needs it
    python -m bench.fuzz_conditions -atheris_runs=200000 -max_len=400 \
        -artifact_prefix=/tmp/ [corpus_dir]

Each input is tried as a measure condition, as a value and as a YAML spec file. The
promises under test: ``language.check`` and ``load_yaml`` never raise, whatever the
text; and a condition or value ``check`` accepts over the example dataset's columns is
compiled and run on DuckDB without an error (what ``civicstat validate`` accepts, a refresh
can run). A crash stops the run with the input that caused it, as libFuzzer does. The
suite's short version of the same promises is ``tests/metrics/test_expression_fuzz.py``
(hypothesis, typed generation; ``CIVICSTAT_FUZZ_EXAMPLES=20000`` makes it a campaign).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import ibis
    import yaml

    from civicstat.metrics import compute
    from civicstat.spec.example import write_example
    from civicstat.spec.language import check
    from civicstat.spec.models import Measure
    from civicstat.spec.yamlpos import load_yaml

SEEDS = [
    "closed_at IS NOT NULL AND closed_at <= due_at",
    "request_type = 'pothole'",
    "closed_at - created_at <= INTERVAL '3 days'",
    "lower(district) LIKE 'north%' OR district IN ('downtown', 'east')",
    "CASE WHEN closed_at IS NULL THEN 0 ELSE 1 END = 1",
    "coalesce(reopened, 0) BETWEEN 1 AND 3",
    "round(cost, 1) * 2 > 10",
    "created_at >= '2025-02-01' AND NOT urgent",
]


def example_table() -> tuple[ibis.Table, dict[str, str]]:
    """The example workspace's dataset, plus a column of each type it lacks."""
    root = Path(tempfile.mkdtemp(prefix="civicstat-fuzz-")) / "example"
    write_example(root)
    source = yaml.safe_load((root / "sources" / "service_requests.yaml").read_text())
    columns = {c["name"]: c["type"] for c in source["columns"]}
    types = {n: "VARCHAR" if t == "string" else t.upper() for n, t in columns.items()}
    con = ibis.duckdb.connect()
    table = con.read_csv(root / source["options"]["path"], types=types)
    table = table.mutate(
        reopened=(table.request_id.length() % 3).cast("int64"),
        cost=table.request_id.length() * 1.5,
        urgent=table.request_type == "pothole",
        due_day=table.due_at.date(),
    )
    extra = {"reopened": "integer", "cost": "float", "urgent": "boolean", "due_day": "date"}
    return con.create_table("requests", table), columns | extra


TABLE, COLUMNS = example_table()


def computes(**fields: str) -> None:
    kind = "share" if "condition" in fields else "sum"
    measure = Measure.model_validate(
        {
            "id": "fuzzed",
            "title": "Fuzzed",
            "dataset": "service_requests",
            "kind": kind,
            "time": "created_at",
            "grain": "month",
            **fields,
        }
    )
    compute.expression(measure, TABLE).execute()


def one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    load_yaml(text, "fuzzed.yaml")
    if not check(text, COLUMNS):
        computes(condition=text, filter=text)
    if not check(text, COLUMNS, value=True):
        computes(value=text)


def main() -> None:
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    if not corpus:
        corpus = [tempfile.mkdtemp(prefix="civicstat-fuzz-corpus-")]
        sys.argv.append(corpus[0])
    folder = Path(corpus[0])
    if not any(folder.iterdir()):  # an empty corpus starts from the seeds
        for index, seed in enumerate(SEEDS):
            (folder / f"seed-{index}").write_bytes(seed.encode())
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
