"""The ``file`` connector: CSV, TSV, Parquet, JSON, NDJSON and Excel files, one file or a
glob of many (weekly exports → one dataset), on local disk or behind an fsspec URL
(``s3://bucket/prefix/*.csv`` through s3fs).

Each file is one payload, its bytes as they are: the lake keeps them byte for byte, and
the readers (:mod:`civicstat.warehouse.readers`) or the loader's CSV path parse them.
"""

from __future__ import annotations

import glob
import posixpath
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import fsspec

from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload, PayloadFormat
from civicstat.spec.models import FileOptions

_CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# File name endings by format; only the text formats may also end in .gz.
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".txt"),
    "tsv": (".tsv", ".tab"),
    "parquet": (".parquet", ".pq"),
    "json": (".json",),
    "ndjson": (".ndjson", ".jsonl"),
    "xlsx": (".xlsx",),
}
_GZIP_OK = ("csv", "tsv", "json", "ndjson")
_GLOB_CHARS = ("*", "?", "[")


class FileConnector:
    """Reads the files ``options.path`` names, sorted by name, as one pull."""

    Options: ClassVar[type[FileOptions]] = FileOptions

    def __init__(self, options: FileOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context

    def files(self) -> list[str]:
        """Every matching file, sorted by name: local paths, or URLs for fsspec sources."""
        if is_url(self.options.path):
            return [url for url, _ in self._remote_files()]
        return [str(p) for p in self._local_files()]

    def fetch(self) -> Iterator[Payload]:
        if is_url(self.options.path):
            found = self._remote_files()
            files: list[tuple[str, Any]] = [
                (url, partial(fs.open, fs_path, "rb")) for url, (fs, fs_path) in found
            ]
        else:
            files = [(str(p), partial(p.open, "rb")) for p in self._local_files()]
        formats = {name: self._format(name) for name, _ in files}
        if len(set(formats.values())) > 1:
            by_format = ", ".join(
                f"{fmt}: {_basename(name)}" for name, fmt in sorted(formats.items())
            )
            raise ConnectorError(
                f"{self.options.path!r} matches files of more than one format ({by_format}); "
                "one source reads one format"
            )
        for name, opener in files:
            fmt = formats[name]
            gz = name.lower().endswith(".gz")
            content_type = "application/gzip" if gz else _CONTENT_TYPES[fmt]
            local = None if is_url(self.options.path) else Path(name)
            yield Payload(
                _basename(name), fmt, content_type, opener, self._read_options(fmt), local
            )

    def read_options(self) -> dict[str, Any]:
        """Every format's options; the loader takes what the pull's format needs."""
        return {
            "csv": self.options.csv.model_dump(),
            "json": {"records": self.options.records or ""},
            "xlsx": {"sheet": self.options.sheet, "header_row": self.options.header_row},
        }

    # --- where the files are ----------------------------------------------------------------

    def _local_files(self) -> list[Path]:
        pattern = Path(self.options.path).expanduser()
        if not pattern.is_absolute():
            pattern = self.context.workspace_root / pattern
        matches = sorted(Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file())
        if not matches:
            raise ConnectorError(f"no file matches {self.options.path!r} (looked for {pattern})")
        return matches

    def _remote_files(self) -> list[tuple[str, tuple[Any, str]]]:
        """(URL, (filesystem, path)) of every match, sorted by name."""
        url = self.options.path
        options = self._storage_options()
        try:
            fs, fs_path = fsspec.core.url_to_fs(url, **options)
            fs.invalidate_cache()  # a long-running worker must see files added since last pull
            if any(c in fs_path for c in _GLOB_CHARS):
                found = fs.glob(fs_path, detail=True)
                paths = [p for p, info in found.items() if info.get("type") == "file"]
            else:
                paths = [fs_path] if fs.isfile(fs_path) else []
        except (ImportError, ValueError) as error:
            raise ConnectorError(f"cannot read {url!r}: {error}") from error
        # Each fsspec backend fails in its own way (OSError, botocore's errors...).
        except Exception as error:
            raise ConnectorError(f"cannot list {url!r}: {type(error).__name__}: {error}") from error
        if not paths:
            raise ConnectorError(f"no file matches {url!r}")
        return [(fs.unstrip_protocol(p), (fs, p)) for p in sorted(paths)]

    def _storage_options(self) -> dict[str, Any]:
        """The spec's fsspec options plus the secrets named by ``storage_env``."""
        options = dict(self.options.storage_options)
        for option, variable in self.options.storage_env.items():
            holds = f"the storage option {option!r}"
            options[option] = self.context.secret(variable, holds, f"storage_env.{option}")
        return options

    # --- what the files are -----------------------------------------------------------------

    def _format(self, name: str) -> PayloadFormat:
        return self.options.format or format_of(name)

    def _read_options(self, fmt: PayloadFormat) -> dict[str, Any]:
        """What this payload's reader needs, complete, so it reads right on its own."""
        options = self.read_options()
        if fmt == "tsv":
            return {"csv": {**options["csv"], "delimiter": "\t"}}
        return {fmt: options[fmt]} if fmt in options else {}


def is_url(path: str) -> bool:
    """An fsspec URL (``s3://``, ``gcs://``, ``file://``...) rather than a local path."""
    return "://" in path


def format_of(name: str | Path) -> PayloadFormat:
    """The format a file name says it has: ``week01.csv.gz`` is gzipped CSV."""
    lower = _basename(str(name)).lower()
    stem = lower.removesuffix(".gz")
    for fmt, suffixes in _SUFFIXES.items():
        if stem.endswith(suffixes) and (stem == lower or fmt in _GZIP_OK):
            return fmt
    raise ConnectorError(f"cannot tell the format of {_basename(str(name))!r}: set options.format")


def _basename(name: str) -> str:
    return posixpath.basename(name.replace("\\", "/"))
