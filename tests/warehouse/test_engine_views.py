"""The warehouse's views: one name per dataset, pointed at the version a session reads, so
the same query over another version is the same expression and compiles once."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ibis.backends.sql import SQLBackend

from civicstat.warehouse.engine import Warehouse


def write(path: Path, values: list[int]) -> None:
    pq.write_table(pa.table({"x": pa.array(values, pa.int64())}), path)


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    write(tmp_path / "a.parquet", [1, 2, 3])
    write(tmp_path / "b.parquet", [10, 20])
    return Warehouse(None, tmp_path)


def total(warehouse: Warehouse, version: int, files: list[str], since: int | None = None) -> int:
    with warehouse.session() as table:
        rows = table("counts", version, files, since=since)
        return int(warehouse.scalar(rows.x.sum()))


def test_each_session_reads_the_version_it_asks_for(warehouse: Warehouse) -> None:
    assert total(warehouse, 1, ["a.parquet"]) == 6
    assert total(warehouse, 2, ["a.parquet", "b.parquet"]) == 36
    assert total(warehouse, 1, ["a.parquet"]) == 6  # pointed back
    assert total(warehouse, 2, ["b.parquet"], since=1) == 30  # only what version 2 added
    assert total(warehouse, 2, ["a.parquet", "b.parquet"]) == 36


def test_one_session_reads_one_version_of_a_dataset(warehouse: Warehouse) -> None:
    with warehouse.session() as table:
        table("counts", 1, ["a.parquet"])
        table("counts", 2, ["b.parquet"], since=1)  # the added rows are a view of their own
        with pytest.raises(RuntimeError, match="one version"):
            table("counts", 2, ["a.parquet", "b.parquet"])


def test_the_same_query_over_another_version_compiles_once(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str] = []
    original = SQLBackend.compile

    def counting(self: SQLBackend, expr: object, /, **options: object) -> str:
        sql = str(original(self, expr, **options))
        compiled.append(sql)
        return sql

    monkeypatch.setattr(SQLBackend, "compile", counting)
    for version, files in [(1, ["a.parquet"]), (2, ["a.parquet", "b.parquet"])]:
        with warehouse.session() as table:
            rows = table("counts", version, files)
            big = rows.filter(rows.x > 1)
            result = warehouse.execute(big.aggregate(n=big.count()))
            assert result.column("n").to_pylist() == [2 if version == 1 else 4]
    assert len([s for s in compiled if "COUNT" in s.upper()]) == 1
