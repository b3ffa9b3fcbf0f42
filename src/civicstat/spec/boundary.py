"""What a workspace may reach on the server that runs it: which local files, which variables.

A workspace is written by people the city trusts and reviewed in git; still, a changed
spec must not turn into the server's own secrets. So a spec reads local files only inside
its workspace folder or a data root the operator lists (``CIVICSTAT_DATA_ROOTS``), never
a hidden file, CivicStat's own state (``.civicstat/``, the lake, the metadata store) or a
system folder; and it names the variables holding its secrets, never CivicStat's own.
Validation reports a path or a name that breaks these rules; connectors check again when
they run, because the file system (and the applied plan) may have changed since.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

OWN_PREFIX = "CIVICSTAT_"  # every variable CivicStat reads for itself starts so
STATE_DIR = ".civicstat"  # a workspace's own state: secret key, metadata.db, locks
DATA_ROOTS_VARIABLE = "CIVICSTAT_DATA_ROOTS"
# Never read by a source, whatever the roots say: the kernel's and the system's own files.
SYSTEM_FOLDERS = tuple(
    Path(p) for p in ("/proc", "/sys", "/dev", "/run", "/var/run", "/boot", "/etc")
)
_WILDCARDS = ("*", "?", "[")
# URL schemes the file connector reads (through s3fs, whose connections pass the SSRF
# guard). Every other fsspec protocol would open files or sockets the guard never sees.
READABLE_SCHEMES = ("s3", "s3a")


def own_variable(name: str) -> bool:
    """A variable CivicStat reads for itself (settings, secret key, database URL, test
    servers); pydantic-settings matches names in any case, so this does too."""
    return name.upper().startswith(OWN_PREFIX)


def _not_own(name: str) -> str:
    if own_variable(name):
        raise ValueError(
            f"variable {name} is one of CivicStat's own variables ({OWN_PREFIX}*): a source "
            "may not read it; give the source a variable of its own"
        )
    return name


EnvName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
    AfterValidator(_not_own),
    Field(description=f"Name of an environment variable (not its value), not {OWN_PREFIX}*"),
]


def url_refusal(url: str) -> str | None:
    """Why the file connector may not read ``url``, as words to follow it, or None."""
    scheme = url.split("://", 1)[0].lower()
    if "::" in url:
        return (
            "chains fsspec URLs (simplecache::, zip::…): only a plain s3:// URL or a local "
            "path is read"
        )
    if scheme in READABLE_SCHEMES:
        return None
    if scheme in ("http", "https"):
        return (
            "is an HTTP URL: use the http connector, whose requests pass the SSRF guard "
            "and network.allow"
        )
    if scheme in ("file", "local"):
        return "is a file URL: write the local path itself (relative to the workspace)"
    return f"uses {scheme}://, which the file connector does not read (local paths and s3:// only)"


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def real_path(path: Path) -> Path:
    """``path`` with every symbolic link and ``..`` resolved, whether it exists or not."""
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class Boundary:
    """The local paths a workspace's specs may read. Build it with :meth:`of`."""

    workspace: Path
    data_roots: tuple[Path, ...] = ()
    protected: tuple[Path, ...] = ()  # CivicStat's own state: the lake, the metadata store

    @classmethod
    def of(
        cls, workspace: Path, data_roots: Iterable[Path] = (), protected: Iterable[Path] = ()
    ) -> Boundary:
        root = real_path(workspace.absolute())
        roots = tuple(real_path(root / p) for p in data_roots)
        return cls(root, roots, tuple(real_path(root / p) for p in protected))

    @property
    def roots(self) -> tuple[Path, ...]:
        return (self.workspace, *self.data_roots)

    def absolute(self, path: str) -> Path:
        """A path as a spec writes it: relative to the workspace folder, or absolute."""
        given = Path(path).expanduser()
        return given if given.is_absolute() else self.workspace / given

    def refusal(self, path: Path) -> str | None:
        """Why ``path`` may not be read, as words to follow it, or None when it may.

        Links and ``..`` are resolved first, so a link inside the workspace that points
        out of it is judged by where it points.
        """
        real = real_path(path)
        written = Path(os.path.normpath(path.absolute()))  # /proc/self/cwd/… is /proc's too
        system = next((f for f in SYSTEM_FOLDERS if _within(real, f) or _within(written, f)), None)
        if system is not None:
            return f"is in {system}, a system folder no source may read"
        if STATE_DIR in real.parts:
            return (
                f"is in a {STATE_DIR} folder, where CivicStat keeps its own state "
                "(secret key, metadata): no source may read it"
            )
        if any(_within(real, p) for p in self.protected):
            return (
                "is CivicStat's own state (the lake or the metadata store): no source may read it"
            )
        root = next((r for r in self.roots if _within(real, r)), None)
        if root is None:
            return (
                f"is outside the workspace folder and the data roots ({DATA_ROOTS_VARIABLE}); "
                "an operator may add a folder of data files there"
            )
        hidden = next((p for p in real.relative_to(root).parts if p.startswith(".")), None)
        if hidden is not None:
            return f"is hidden ({hidden}): no source reads hidden files or folders (.env, .git…)"
        return None

    def pattern_refusal(self, pattern: Path) -> str | None:
        """Why a file or glob may not be read, judged before matching: the folder before
        its first wildcard must be readable, and nothing after it may climb (``..``) or
        name a hidden entry. Each match is judged again with :meth:`refusal`."""
        parts = pattern.parts
        first = next((i for i, p in enumerate(parts) if any(c in p for c in _WILDCARDS)), None)
        if first is None:
            return self.refusal(pattern)
        if ".." in parts[first:]:
            return "has '..' after a wildcard, which could climb out of its folder"
        hidden = next((p for p in parts[first:] if p.startswith(".")), None)
        if hidden is not None:
            return f"names a hidden entry ({hidden}): no source reads hidden files or folders"
        return self.refusal(Path(*parts[:first]))
