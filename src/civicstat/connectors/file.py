"""The ``file`` connector: CSV (optionally gzipped) and Parquet files, one file or a glob."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload, PayloadFormat
from civicstat.spec.models import FileOptions

_CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


class FileConnector:
    Options: ClassVar[type[FileOptions]] = FileOptions

    def __init__(self, options: FileOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context

    def files(self) -> list[Path]:
        pattern = Path(self.options.path)
        if not pattern.is_absolute():
            pattern = self.context.workspace_root / pattern
        matches = sorted(Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file())
        if not matches:
            raise ConnectorError(f"no file matches {self.options.path!r} (looked for {pattern})")
        return matches

    def fetch(self) -> Iterator[Payload]:
        for path in self.files():
            fmt = self.options.format or format_of(path)
            gz = path.name.endswith(".gz")
            content_type = "application/gzip" if gz else _CONTENT_TYPES[fmt]
            yield Payload(path.name, fmt, content_type, partial(path.open, "rb"))

    def read_options(self) -> dict[str, Any]:
        return {"csv": self.options.csv.model_dump()}


def format_of(path: Path) -> PayloadFormat:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise ConnectorError(f"cannot tell the format of {path.name!r}: set options.format")
