"""The ``file`` connector: CSV, TSV, Parquet, JSON, NDJSON and Excel files, one file or a
glob of many (weekly exports → one dataset), on local disk or in S3
(``s3://bucket/prefix/*.csv`` through s3fs).

Each file is one payload, its bytes as they are: the lake keeps them byte for byte, and
the readers (:mod:`civicstat.warehouse.readers`) or the loader's CSV path parse them.

What a source may read is bounded (:mod:`civicstat.spec.boundary`): local files inside the
workspace or a data root, judged after links and ``..`` are resolved, never a hidden file
or CivicStat's own state; URLs only ``s3://``, whose connections pass the SSRF guard. Any
other fsspec protocol (``http://``, ``ftp://``, ``memory://``, chained ``simplecache::``…)
is refused: it would open files or sockets no guard sees.
"""

from __future__ import annotations

import glob
import posixpath
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from civicstat.connectors._guard import Guard, RefusedAddress
from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload, PayloadFormat
from civicstat.spec.boundary import Boundary, EnvName, real_path, url_refusal
from civicstat.spec.models import SpecModel
from civicstat.spec.yamlpos import Loc
from civicstat.warehouse.csv_format import CsvOptions

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


# What an s3:// source may tell s3fs, with the type of each value. Anything else (a
# profile of the server's own credentials, a proxy, a local file) is refused.
_NUMBER = (int, float)
S3_OPTIONS: dict[str, Any] = {
    "anon": bool,
    "endpoint_url": str,
    "requester_pays": bool,
    "use_ssl": bool,
    "version_aware": bool,
    "default_block_size": int,
    "client_kwargs": {"endpoint_url": str, "region_name": str, "verify": bool, "use_ssl": bool},
    "config_kwargs": {
        "signature_version": str,
        "s3": dict,
        "connect_timeout": _NUMBER,
        "read_timeout": _NUMBER,
        "retries": dict,
        "region_name": str,
    },
}
S3_SECRET_OPTIONS = frozenset({"key", "secret", "token"})  # from storage_env only


class FileOptions(SpecModel):
    """Options of the ``file`` connector. Secrets never go here: ``storage_env`` names the
    environment variables that hold them."""

    path: str = Field(
        description="File, or glob of files, relative to the workspace folder or absolute "
        "(inside the workspace or a data root), or an s3:// URL such as s3://bucket/prefix/*.csv"
    )
    format: Literal["csv", "tsv", "parquet", "json", "ndjson", "xlsx"] | None = Field(
        None, description="Default: from the file name (.csv, .tsv, .json, .ndjson, .xlsx, ...)"
    )
    csv: CsvOptions = CsvOptions()
    records: str | None = Field(
        None, description="json: dot path to the records array, e.g. data.rows; default: the top"
    )
    sheet: str | Annotated[int, Field(ge=0)] | None = Field(
        None, description="xlsx: sheet name, or 0-based index; default: the first sheet"
    )
    header_row: int = Field(1, ge=1, description="xlsx: row number (from 1) of the column names")
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description="s3fs options for an s3:// path, e.g. endpoint_url; never credentials",
    )
    storage_env: dict[str, EnvName] = Field(
        default_factory=dict,
        description="s3fs option (key, secret, token) -> name of the environment variable "
        "holding its value",
    )

    @field_validator("path")
    @classmethod
    def _readable_url(cls, value: str) -> str:
        if "://" in value and (refusal := url_refusal(value)) is not None:
            raise ValueError(f"{value!r} {refusal}")
        return value

    @field_validator("storage_options")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        _no_secret_options(value)
        _known_options(value, S3_OPTIONS)
        return value

    @field_validator("storage_env")
    @classmethod
    def _secret_options(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - S3_SECRET_OPTIONS)
        if unknown:
            raise ValueError(
                f"storage_env.{unknown[0]}: only {', '.join(sorted(S3_SECRET_OPTIONS))} "
                "come from the environment"
            )
        return value


def _no_secret_options(options: dict[str, Any]) -> None:
    secret = ("key", "secret", "token", "password", "passwd", "credential", "connection")
    for name, item in options.items():
        if any(word in name.lower() for word in secret):
            raise ValueError(
                f"storage_options.{name} looks like a secret: put the name of an "
                f"environment variable holding it under storage_env.{name} instead"
            )
        if isinstance(item, dict):
            _no_secret_options(item)


def _known_options(options: dict[str, Any], known: dict[str, Any], where: str = "") -> None:
    """Refuse s3fs options outside the short list a city needs, or of the wrong type."""
    for name, item in options.items():
        place = f"storage_options.{where}{name}"
        if name not in known:
            raise ValueError(f"{place} is not supported (known: {', '.join(sorted(known))})")
        wanted = known[name]
        if isinstance(wanted, dict):
            if not isinstance(item, dict):
                raise ValueError(f"{place} must be a mapping")
            _known_options(item, wanted, f"{where}{name}.")
        elif not isinstance(item, wanted) or (wanted is not bool and isinstance(item, bool)):
            kinds = wanted if isinstance(wanted, tuple) else (wanted,)
            names = {bool: "true or false", str: "text", int: "a number", float: "a number"}
            shown = " or ".join(dict.fromkeys(names.get(k, "a mapping") for k in kinds))
            raise ValueError(f"{place} must be {shown}")


class FileConnector:
    """Reads the files ``options.path`` names, sorted by name, as one pull."""

    Options: ClassVar[type[FileOptions]] = FileOptions

    def __init__(self, options: FileOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context

    @classmethod
    def reach_problems(cls, options: FileOptions, boundary: Boundary) -> list[tuple[Loc, str]]:
        """What ``civicstat validate`` says about a path this machine would not read."""
        if is_url(options.path):
            return []  # the URL's scheme is checked by FileOptions itself
        refusal = boundary.pattern_refusal(boundary.absolute(options.path))
        return [] if refusal is None else [(("path",), f"{options.path!r} {refusal}")]

    def files(self) -> list[str]:
        """Every matching file, sorted by name: local paths, or URLs for s3:// sources."""
        if is_url(self.options.path):
            return [url for url, _ in self._remote_files()]
        return [str(shown) for shown, _ in self._local_files()]

    def fetch(self) -> Iterator[Payload]:
        files: list[tuple[str, Any, Path | None]]
        if is_url(self.options.path):
            found = self._remote_files()
            files = [(url, partial(fs.open, fs_path, "rb"), None) for url, (fs, fs_path) in found]
        else:
            # The checked file itself is read, never the link that led to it.
            files = [
                (str(shown), partial(real.open, "rb"), real) for shown, real in self._local_files()
            ]
        formats = {name: self._format(name) for name, _, _ in files}
        if len(set(formats.values())) > 1:
            by_format = ", ".join(
                f"{fmt}: {_basename(name)}" for name, fmt in sorted(formats.items())
            )
            raise ConnectorError(
                f"{self.options.path!r} matches files of more than one format ({by_format}); "
                "one source reads one format"
            )
        for name, opener, local in files:
            fmt = formats[name]
            gz = name.lower().endswith(".gz")
            content_type = "application/gzip" if gz else _CONTENT_TYPES[fmt]
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

    def _where(self) -> str:
        return f"options.path of source {self.context.source_id!r}"

    def _local_files(self) -> list[tuple[Path, Path]]:
        """(path as matched, the real file it is) of every match, sorted by name; any
        match outside what the source may read fails the pull, naming it."""
        reach = self.context.reach
        pattern = reach.absolute(self.options.path)
        refusal = reach.pattern_refusal(pattern)
        if refusal is not None:
            raise ConnectorError(f"{self._where()}: {self.options.path!r} {refusal}")
        matches: list[tuple[Path, Path]] = []
        for found in sorted(glob.glob(str(pattern))):
            shown = Path(found)
            refusal = reach.refusal(shown)
            if refusal is not None:
                raise ConnectorError(f"{self._where()}: {_basename(found)!r} {refusal}")
            real = real_path(shown)
            if real.is_file():
                matches.append((shown, real))
        if not matches:
            raise ConnectorError(f"no file matches {self.options.path!r} (looked for {pattern})")
        return matches

    def _remote_files(self) -> list[tuple[str, tuple[Any, str]]]:
        """(URL, (filesystem, path)) of every match, sorted by name."""
        url = self.options.path
        refusal = url_refusal(url)
        if refusal is not None:  # a plan applied before the rule, or a third-party caller
            raise ConnectorError(f"{self._where()}: {url!r} {refusal}")
        from civicstat.connectors import _s3

        guard = Guard(self.context.allow)
        try:
            fs = _s3.filesystem(self._storage_options(), guard, self._where())
            fs_path = fs._strip_protocol(url)
            fs.invalidate_cache()  # a long-running worker must see files added since last pull
            if any(c in fs_path for c in _GLOB_CHARS):
                found = fs.glob(fs_path, detail=True)
                paths = [p for p, info in found.items() if info.get("type") == "file"]
            else:
                paths = [fs_path] if fs.isfile(fs_path) else []
        except ConnectorError:
            raise
        except (ImportError, ValueError) as error:
            raise ConnectorError(f"cannot read {url!r}: {error}") from error
        # s3fs fails in its own ways (OSError, botocore's errors...); the guard's refusal
        # arrives wrapped in them, and is what the message must say.
        except Exception as error:
            refused = _refusal_in(error)
            if refused is not None:
                raise refused from error
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


def _refusal_in(error: BaseException) -> RefusedAddress | None:
    """The guard's refusal behind an error from s3fs or botocore, if that is what it is."""
    seen: set[int] = set()
    current: Any = error
    while current is not None and id(current) not in seen:
        if isinstance(current, RefusedAddress):
            return current
        seen.add(id(current))
        details = getattr(current, "kwargs", None)  # botocore's HTTPClientError keeps it there
        wrapped = details.get("error") if isinstance(details, dict) else None
        current = wrapped if wrapped is not None else current.__cause__ or current.__context__
    return None


def is_url(path: str) -> bool:
    """A URL (``s3://``; other schemes are refused) rather than a local path."""
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
