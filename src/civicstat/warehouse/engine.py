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

from civicstat.recent import Recent

DEFAULT_URL = "duckdb://"


class TableOf(Protocol):
    """A dataset version's rows as an Ibis table; with ``since``, only the rows of the
    files it added to that earlier version (``files`` are then those)."""

    def __call__(
        self, dataset_id: str, version: int, files: list[str], *, since: int | None = None
    ) -> Table: ...


class Warehouse:
    """One Ibis connection per process; a dataset's rows are a view over Parquet files.

    Queries are serialised by a lock: an in-process DuckDB connection is not meant to be
    used by several threads at once, and the web server answers on a thread pool.

    A dataset's view keeps its name from version to version (it is pointed at the version
    a session asks for), so a query built the same way over another version is the same
    Ibis expression, and its compiled SQL is reused: compiling costs more than running a
    refresh's small queries. A session sees one version of each dataset.
    """

    def __init__(self, url: str | None, lake_root: Path) -> None:
        self.url = url or DEFAULT_URL
        self.lake_root = lake_root
        self._con: BaseBackend | None = None
        self._lock = threading.RLock()
        self._views: dict[tuple[str, int, int | None], Table] = {}
        self._pointed: dict[str, tuple[str, int, int | None]] = {}  # view name → its rows
        self._held: dict[str, tuple[str, int, int | None]] = {}  # pointed in this session
        self._depth = 0
        self._variables: dict[str, str] = {}

    @property
    def con(self) -> BaseBackend:
        if self._con is None:
            self._con = ibis.connect(self.url)
            _reuse_compiled_sql(self._con)
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
        """Hold the connection for a few queries; yields ``table(dataset, version, files)``.
        Build and run the queries over its tables inside the block."""
        with self._lock:
            self._depth += 1
            try:
                yield self._table
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._held.clear()

    def _table(
        self, dataset_id: str, version: int, files: list[str], *, since: int | None = None
    ) -> Table:
        name = dataset_id.replace("-", "_")
        if since is not None:  # only the files a version added to an earlier one
            name += "__added"
        key = (dataset_id, version, since)
        if self._held.setdefault(name, key) != key:
            raise RuntimeError(
                f"one session reads one version of {dataset_id!r}: asked for {version} "
                f"after {self._held[name][1]}"
            )
        if self._pointed.get(name) != key:
            paths = [str(self.lake_root / f) for f in files]
            table = self.con.read_parquet(paths, table_name=name)
            self._pointed[name] = key
            # Kept: looking a table up again asks the engine for its schema each time.
            self._views.setdefault(key, table)
        return self._views[key]

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
                self._pointed.clear()
                self._variables.clear()


_COMPILED_KEPT = 512  # queries whose SQL is kept, most recently used first


def _reuse_compiled_sql(backend: BaseBackend) -> None:
    """Keep the SQL each expression compiled to, for the next time the same expression
    (equal Ibis nodes: same tables, literals and steps) runs. Plain compiles only; a
    ``limit``, ``params`` or ``pretty`` compiles as usual."""
    compile_once = getattr(backend, "compile", None)
    if compile_once is None:
        return
    kept: Recent[Any, Any] = Recent(_COMPILED_KEPT)

    def compile(expr: Any, /, **options: Any) -> Any:
        if any(v not in (None, False) for v in options.values()):
            return compile_once(expr, **options)
        return kept.get(expr.op(), lambda: compile_once(expr))

    backend.compile = compile
