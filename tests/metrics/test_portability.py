"""The example plan's measures give the same answers on DuckDB, PostgreSQL and Spark.

DuckDB's answers are the service's own: ingesting the example workspace computes every
measure. The same Parquet rows are then loaded into the PostgreSQL server and a local
Spark session, and each measure is computed there as ``metrics.refresh`` does it (row
kinds through one Ibis query, ratio and derived from that engine's own inputs). Values,
numerators and denominators must agree within a relative 1e-9, over the same periods and
slices, with the same counts.

A kind an engine cannot run goes into ``LIMITS`` with the reason: its test is then marked
``engine_limit``, a strict expected failure (tests/skip_guard.py), so it is declared, never
skipped, and fails once the engine can run it; under ``CI=true`` it is the only expected
failure allowed.

The SQL of two representative measures is kept per dialect in ``golden/<dialect>/``. A
change in it fails the test until it is regenerated on purpose and the diff reviewed::

    CIVICSTAT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/metrics/test_portability.py -k golden
"""

from __future__ import annotations

import datetime as dt
import math
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ibis.backends import BaseBackend
from ibis.expr.types import Table
from pyspark.sql import SparkSession
from sqlalchemy.engine import make_url

from civicstat.domain.observations import ObservationRow
from civicstat.governance.actors import operator
from civicstat.metadata import data_versions, observations
from civicstat.metrics import composite, compute, kinds, populations, refresh
from civicstat.plan import AppliedPlan
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.services.ingest import ingest
from civicstat.settings import Settings
from civicstat.spec.example import write_example
from civicstat.spec.models import Measure
from civicstat.spec.validate import load_workspace

# PySpark 4 warns about pandas 3 on every conversion; the results are checked here anyway.
pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
]

EXAMPLE = load_workspace(Path(str(files("civicstat.spec.example"))))
ENGINES = ("postgres", "pyspark")
DIALECTS = ("duckdb", "postgres", "pyspark")
GOLDEN = Path(__file__).parent / "golden"
GOLDEN_MEASURES = ("median-days-to-close", "pct-potholes-repaired-on-time")
UPDATE_GOLDEN = os.environ.get("CIVICSTAT_UPDATE_GOLDEN", "") not in ("", "0")
REL_TOL = 1e-9

# (engine, kind) → why that engine cannot compute the kind like DuckDB does. Every kind in
# the example plan runs on both engines today, so nothing is declared.
LIMITS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Reference:
    """The example workspace, ingested and computed by the service on DuckDB."""

    ctx: Context
    plan: AppliedPlan
    env: kinds.Env
    rows: pa.Table  # the dataset's current version, read from its Parquet files
    warehouse_table: Table  # the same version as the DuckDB warehouse reads it
    observations: dict[str, list[ObservationRow]]


@dataclass
class Engine:
    name: str
    con: BaseBackend
    table: Table
    computed: dict[str, list[ObservationRow]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    base = tmp_path_factory.mktemp("portability")
    root = base / "ws"
    write_example(root)
    ctx = Context(Settings(workspace=root, database_url=f"sqlite:///{base / 'metadata.db'}"))
    try:
        ctx.migrate()
        actor = operator("pytest")
        workspace_service.apply(ctx, actor)
        ingest(ctx, actor, "service_requests")
        with ctx.db.session() as session:
            plan = ctx.require_plan(session)
            version = data_versions.current(session, "service_requests")
            assert version is not None
            dataset, number, paths = version.dataset_id, version.version, list(version.files)
            computed = {m: observations.current_rows(session, m) for m in plan.measures}
        rows = pa.concat_tables([pq.read_table(ctx.lake.root / p) for p in paths])
        with ctx.warehouse.session() as table:
            warehouse_table = table(dataset, number, paths)
        env = refresh.environment(plan)
        yield Reference(ctx, plan, env, rows, warehouse_table, computed)
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def postgres_engine(postgres_server: str, reference: Reference) -> Iterator[Engine]:
    """The rows in a fresh schema of the PostgreSQL server, dropped afterwards.

    A new schema rather than ``overwrite=True``: ibis 12 with sqlglot ≥ 30.18 writes its
    DROP TABLE without a name (ibis#12101), so cleanup is one raw DROP SCHEMA.
    """
    url = make_url(postgres_server)
    con = ibis.postgres.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    schema = f"civicstat_portability_{uuid.uuid4().hex[:12]}"
    con.raw_sql(f'CREATE SCHEMA "{schema}"').close()
    try:
        table = con.create_table("service_requests", obj=reference.rows, database=schema)
        yield Engine("postgres", con, table)
    finally:
        con.raw_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE').close()
        con.disconnect()


@pytest.fixture(scope="module")
def pyspark_engine(
    java: str, reference: Reference, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One local Spark session for the module, holding the rows as a temporary view."""
    session = (
        SparkSession.builder.master("local[2]")
        .appName("civicstat-portability")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        con = ibis.pyspark.connect(session)
        table = con.create_view("service_requests", ibis.memtable(reference.rows))
        yield Engine("pyspark", con, table)
    finally:
        session.stop()


def computed_on(engine: Engine, ref: Reference, measure_id: str) -> list[ObservationRow]:
    """The measure's observations on ``engine``, computed as ``metrics.refresh`` does."""
    if measure_id not in engine.computed:
        engine.computed[measure_id] = _compute(engine, ref, ref.plan.measures[measure_id])
    return engine.computed[measure_id]


def _compute(engine: Engine, ref: Reference, measure: Measure) -> list[ObservationRow]:
    kind = kinds.get(measure.kind)
    if isinstance(kind, kinds.Ratio):
        assert measure.numerator is not None
        assert measure.denominator is not None
        top = computed_on(engine, ref, measure.numerator)
        bottom = computed_on(engine, ref, measure.denominator)
        return composite.ratio(measure, top, bottom)
    if isinstance(kind, kinds.Derived):
        inputs = {name: computed_on(engine, ref, m) for name, m in measure.inputs.items()}
        return composite.derived(measure, inputs)
    row_measure = ref.plan.effective(measure)
    result = engine.con.to_pyarrow(compute.expression(row_measure, engine.table, ref.env))
    denominators = populations.denominators(ref.ctx.db, ref.ctx.warehouse, row_measure)
    return list(compute.observations(row_measure, result, ref.env, denominators))


def differences(expected: Sequence[ObservationRow], got: Sequence[ObservationRow]) -> list[str]:
    """Every way ``got`` differs from ``expected``, one line each; empty when they agree."""
    want = {(r.period_start, r.period_end, r.slice_key): r for r in expected}
    have = {(r.period_start, r.period_end, r.slice_key): r for r in got}
    problems = [f"{len(got) - len(have)} repeated (period, slice)"] if len(have) < len(got) else []
    problems += [f"missing {key}" for key in sorted(want.keys() - have.keys())]
    problems += [f"unexpected {key}" for key in sorted(have.keys() - want.keys())]
    for key in sorted(want.keys() & have.keys()):
        a, b = want[key], have[key]
        for name in ("value", "numerator", "denominator"):
            x, y = getattr(a, name), getattr(b, name)
            if not _same(x, y):
                problems.append(f"{key} {name}: DuckDB {x!r}, here {y!r}")
        if a.n != b.n:
            problems.append(f"{key} n: DuckDB {a.n}, here {b.n}")
    return problems


def _same(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return math.isclose(x, y, rel_tol=REL_TOL)


def _engine_params() -> list[Any]:
    params = []
    for engine in ENGINES:
        for measure in sorted(EXAMPLE.measures.values(), key=lambda m: m.id):
            marks = [pytest.mark.postgres] if engine == "postgres" else [pytest.mark.slow]
            reason = LIMITS.get((engine, measure.kind))
            if reason is not None:
                marks.append(pytest.mark.engine_limit(f"{engine}: {reason}"))
            params.append(
                pytest.param(engine, measure.id, marks=marks, id=f"{engine}-{measure.id}")
            )
    return params


def _row_measures() -> list[str]:
    """Measures computed by a query (composite ones are arithmetic in Python)."""
    return sorted(
        m.id
        for m in EXAMPLE.measures.values()
        if m.kind == "cumulative" or isinstance(kinds.get(m.kind), kinds.RowKind)
    )


@pytest.mark.parametrize(("engine_name", "measure_id"), _engine_params())
def test_example_measure_gives_duckdbs_answer(
    engine_name: str, measure_id: str, reference: Reference, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(f"{engine_name}_engine")
    expected = reference.observations[measure_id]
    assert expected, f"DuckDB computed no observation of {measure_id}"
    assert differences(expected, computed_on(engine, reference, measure_id)) == []


def test_a_changed_value_a_missing_slice_or_a_lost_null_is_a_difference() -> None:
    def row(key: str, value: float | None, n: int = 3) -> ObservationRow:
        return ObservationRow(dt.date(2025, 1, 1), dt.date(2025, 2, 1), key, value, None, None, n)

    duckdb = [row("", 1.0), row("district=north", None), row("district=east", 2.0)]
    assert differences(duckdb, [row("", 1.0 + 1e-12), *duckdb[1:]]) == []
    found = differences(duckdb, [row("", 1.000001), row("district=north", 0.0, n=4)])
    assert len(found) == 4  # the value, the NULL, the count and the missing slice


def sql(reference: Reference, measure_id: str, dialect: str) -> str:
    row_measure = reference.plan.effective(reference.plan.measures[measure_id])
    expr = compute.expression(row_measure, reference.warehouse_table, reference.env)
    getattr(ibis, dialect)  # loading a backend registers the options its compiler reads
    text: str = ibis.to_sql(expr, dialect=dialect)
    return text


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("measure_id", _row_measures())
def test_example_measure_compiles_for_every_dialect(
    measure_id: str, dialect: str, reference: Reference
) -> None:
    assert sql(reference, measure_id, dialect).lstrip().upper().startswith(("SELECT", "WITH"))


@pytest.mark.parametrize(
    ("dialect", "measure_id"),
    [pytest.param(d, m, id=f"{d}-{m}") for d in DIALECTS for m in GOLDEN_MEASURES],
)
def test_generated_sql_matches_golden_file(
    dialect: str, measure_id: str, reference: Reference
) -> None:
    path = GOLDEN / dialect / f"{measure_id}.sql"
    text = sql(reference, measure_id, dialect).rstrip() + "\n"
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    hint = "rerun with CIVICSTAT_UPDATE_GOLDEN=1 and review the diff"
    assert path.exists(), f"no golden file {path.name} for {dialect}: {hint}"
    assert text == path.read_text(encoding="utf-8"), f"{dialect} SQL changed: {hint}"
