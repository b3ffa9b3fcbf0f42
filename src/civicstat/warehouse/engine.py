"""Read curated table versions through Ibis, on the engine named by the warehouse URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import ibis
from ibis.backends import BaseBackend
from ibis.expr.types import Table

DEFAULT_URL = "duckdb://"


class TableOf(Protocol):
    """A dataset version's rows as an Ibis table; with ``since``, only the rows of the
    files it added to that earlier version (``files`` are then those)."""

    def __call__(
        self, dataset_id: str, version: int, files: list[str], *, since: int | None = None
    ) -> Table: ...


class Warehouse:
    """One Ibis connection per process; each table version is a view over its Parquet files.

    Queries are serialised by a lock: an in-process DuckDB connection is not meant to be
    used by several threads at once, and the web server answers on a thread pool.
    """

    def __init__(self, url: str | None, lake_root: Path) -> None:
        self.url = url or DEFAULT_URL
        self.lake_root = lake_root
        self._con: BaseBackend | None = None
        self._lock = threading.RLock()
        self._views: dict[str, Table] = {}
        self._variables: dict[str, str] = {}

    @property
    def con(self) -> BaseBackend:
        if self._con is None:
            self._con = ibis.connect(self.url)
        return self._con

    def set_variables(self, values: dict[str, str]) -> bool:
        """Set engine variables (DuckDB's ``SET VARIABLE``) that queries read with
        ``getvariable``, so a value such as a key is not written into any query's text;
        False on an engine that has no variables."""
        with self._lock:
            if self.con.name != "duckdb":
                return False
            for name, value in values.items():
                if self._variables.get(name) != value:
                    if not name.isidentifier():
                        raise ValueError(f"not a variable name: {name!r}")
                    self.con.raw_sql(f"SET VARIABLE {name} = ?", parameters=[value])
                    self._variables[name] = value
            return True

    @contextmanager
    def session(self) -> Iterator[TableOf]:
        """Hold the connection for a few queries; yields ``table(dataset, version, files)``."""
        with self._lock:
            yield self._table

    def _table(
        self, dataset_id: str, version: int, files: list[str], *, since: int | None = None
    ) -> Table:
        name = f"{dataset_id.replace('-', '_')}__v{version}"
        if since is not None:  # only the files a version added to an earlier one
            name += f"__since_v{since}"
        if name not in self._views:
            paths = [str(self.lake_root / f) for f in files]
            self.con.read_parquet(paths, table_name=name)
            # Kept: looking a table up again asks the engine for its schema each time.
            self._views[name] = self.con.table(name)
        return self._views[name]

    def execute(self, expr: Any) -> Any:
        with self._lock:
            return self.con.to_pyarrow(expr)

    def scalar(self, expr: Any) -> Any:
        with self._lock:
            return self.con.execute(expr)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.disconnect()
                self._con = None
                self._views.clear()
                self._variables.clear()
