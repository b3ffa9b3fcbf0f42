"""The lake folder: raw payloads kept as-is, and curated table files."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class LandedFile:
    path: Path  # absolute path in the lake
    relative: str  # path relative to the lake root, as recorded in metadata
    original_name: str
    content_type: str
    sha256: str  # empty until settle() has hashed a file landed with land_file()
    size: int


class Lake:
    """A local folder holding ``raw/`` (as received) and ``tables/`` (curated Parquet)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relative: str) -> Path:
        return self.root / relative

    def land(
        self,
        source_id: str,
        name: str,
        content_type: str,
        stream: IO[bytes],
        *,
        when: dt.datetime,
        durable: bool = True,
    ) -> LandedFile:
        """Copy a payload byte for byte under ``raw/<source>/<date>/``, hashing as it goes.

        The copy is written to a temporary name, flushed to disk and then renamed, so a
        crash never leaves a half file under a final name. With ``durable=False`` the flush
        is left to :meth:`settle`, which the caller must run before anything refers to the
        file (the pipeline overlaps it with parsing).
        """
        final, temp = self._target(source_id, name, when)
        digest = hashlib.sha256()
        size = 0
        with temp.open("wb") as out:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        temp.rename(final)
        if durable:
            _fsync_path(final.parent)
        relative = final.relative_to(self.root).as_posix()
        return LandedFile(final, relative, name, content_type, digest.hexdigest(), size)

    def land_file(
        self, source_id: str, name: str, content_type: str, source: Path, *, when: dt.datetime
    ) -> LandedFile:
        """Copy a local file with the kernel's file copy; its hash and flush to disk are
        left to :meth:`settle` (``sha256`` is empty until then), to overlap parsing."""
        final, temp = self._target(source_id, name, when)
        shutil.copyfile(source, temp)
        temp.rename(final)
        relative = final.relative_to(self.root).as_posix()
        return LandedFile(final, relative, name, content_type, "", final.stat().st_size)

    def settle(self, files: Sequence[LandedFile]) -> list[LandedFile]:
        """Hash the landed files that have no hash yet, and flush all of them and their
        folders to disk. Returns the files with their hashes."""
        settled = [f if f.sha256 else replace(f, sha256=_sha256(f.path)) for f in files]
        self.make_durable(settled)
        return settled

    def _target(self, source_id: str, name: str, when: dt.datetime) -> tuple[Path, Path]:
        folder = self.root / "raw" / source_id / when.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        stamp = when.strftime("%H%M%S")
        final = folder / f"{stamp}-{uuid.uuid4().hex[:8]}-{_safe(name)}"
        return final, final.with_name(f".{final.name}.part")

    def make_durable(self, files: Sequence[LandedFile]) -> None:
        """Flush landed files and their folders to disk."""
        for path in [f.path for f in files] + sorted({f.path.parent for f in files}):
            _fsync_path(path)

    def remove(self, relative: str) -> bool:
        """Delete one file of the lake (retention); False when it was already gone."""
        path = self.root / relative
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def new_table_folder(self, dataset_id: str) -> tuple[Path, str]:
        """A fresh folder for one version's files; nothing refers to it until it is published."""
        relative = f"tables/{dataset_id}/{uuid.uuid4().hex}"
        folder = self.root / relative
        folder.mkdir(parents=True)
        return folder, relative

    def discard(self, relative: str) -> None:
        shutil.rmtree(self.root / relative, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)[-120:] or "payload"
