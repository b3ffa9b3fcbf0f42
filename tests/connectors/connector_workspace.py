"""A minimal workspace around one networked source, for end-to-end connector tests.

The workspace allows 127.0.0.1 in ``network.allow``, as a city would list an internal
system, so the real pipeline reaches the test's local server through the SSRF guard.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import yaml

from civicstat.governance.actors import Actor
from civicstat.metadata.models import DataVersion
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings


@contextmanager
def workspace_with(root: Path, source: dict[str, Any], actor: Actor) -> Iterator[Context]:
    """Write and apply a workspace whose only source is ``source``; SQLite metadata."""
    (root / "sources").mkdir(parents=True)
    files = {
        "civicstat.yaml": {
            "name": "connectors",
            "title": "Connector tests",
            "network": {"allow": ["127.0.0.1"]},
        },
        "governance.yaml": {"departments": [{"id": "it", "title": "Information Technology"}]},
        "plan.yaml": {
            "title": "Plan",
            "period": {"start": "2026-01-01", "end": "2026-12-31"},
            "goals": [{"id": "open-data", "title": "Open data"}],
        },
        f"sources/{source['id']}.yaml": {"title": source["id"], "owner": "it", **source},
    }
    for name, content in files.items():
        (root / name).write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    ctx = Context(Settings(workspace=root, database_url=f"sqlite:///{root / 'metadata.db'}"))
    try:
        ctx.migrate()
        workspace_service.apply(ctx, actor)
        yield ctx
    finally:
        ctx.close()


def version_rows(ctx: Context, version: DataVersion, columns: str) -> list[tuple[Any, ...]]:
    """The rows of a published version, in file order."""
    files = [str(ctx.lake.path(f)) for f in version.files]
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT {columns} FROM read_parquet($f)", {"f": files}).fetchall()  # noqa: S608
    finally:
        con.close()
