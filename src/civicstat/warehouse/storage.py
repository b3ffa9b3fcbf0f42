"""The lake folder: raw payloads kept as-is, and curated table files."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from civicstat import private_files

_CHUNK = 1 << 20
# A local file is copied in steps of this size, so that its hash can trail the copy and
# its progress be shown; a few dozen system calls for a large file cost nothing measurable.
_COPY_STEP = 64 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class LandedFile:
    path: Path  # absolute path in the lake
    relative: str  # path relative to the lake root, as recorded in metadata
    original_name: str
    content_type: str
    sha256: str  # empty until settle() has hashed a file landed with land_file()
    size: int
    # The hash being computed behind land_file()'s copy; settle() waits for it.
    hashing: _TrailingHash | None = field(default=None, repr=False, compare=False)


class Lake:
    """A local folder holding ``raw/`` (as received) and ``tables/`` (curated Parquet).

    Everything in it is the server user's alone (folders 700, files 600): raw copies and
    tables of restricted datasets are as sensitive as the source systems they came from.
    """

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
        on_bytes: Callable[[int], None] | None = None,
    ) -> LandedFile:
        """Copy a payload byte for byte under ``raw/<source>/<date>/``, hashing as it goes.

        The copy is written to a temporary name, flushed to disk and then renamed, so a
        crash never leaves a half file under a final name. With ``durable=False`` the flush
        is left to :meth:`settle`, which the caller must run before anything refers to the
        file (the pipeline overlaps it with parsing). ``on_bytes`` is told the bytes copied
        so far, as they grow.
        """
        final, temp = self._target(source_id, name, when)
        digest = hashlib.sha256()
        size = 0
        with private_files.new_file(temp) as out:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if on_bytes is not None:
                    on_bytes(size)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        temp.rename(final)
        if durable:
            _fsync_path(final.parent)
        relative = final.relative_to(self.root).as_posix()
        return LandedFile(final, relative, name, content_type, digest.hexdigest(), size)

    def land_file(
        self,
        source_id: str,
        name: str,
        content_type: str,
        source: Path,
        *,
        when: dt.datetime,
        on_bytes: Callable[[int], None] | None = None,
    ) -> LandedFile:
        """Copy a local file with the kernel's file copy; its hash (computed on a thread
        that trails the copy) and flush to disk are left to :meth:`settle` (``sha256`` is
        empty until then), to overlap parsing. ``on_bytes`` is told the bytes copied so
        far, as they grow."""
        final, temp = self._target(source_id, name, when)
        hashing = _copy(source, temp, on_bytes)
        temp.rename(final)
        relative = final.relative_to(self.root).as_posix()
        size = final.stat().st_size
        return LandedFile(final, relative, name, content_type, "", size, hashing)

    def settle(self, files: Sequence[LandedFile]) -> list[LandedFile]:
        """Hash the landed files that have no hash yet, and flush all of them and their
        folders to disk. Returns the files with their hashes."""
        settled = [
            f
            if f.sha256
            else replace(
                f, sha256=f.hashing.result() if f.hashing else _sha256(f.path), hashing=None
            )
            for f in files
        ]
        self.make_durable(settled)
        return settled

    def _target(self, source_id: str, name: str, when: dt.datetime) -> tuple[Path, Path]:
        folder = private_files.make_folder(
            self.root / "raw" / source_id / when.strftime("%Y-%m-%d")
        )
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
        private_files.make_folder(folder.parent)
        folder.mkdir(mode=private_files.FOLDER_MODE)
        return folder, relative

    def discard(self, relative: str) -> None:
        shutil.rmtree(self.root / relative, ignore_errors=True)

    def unlisted_raw_files(self, area: str, listed: Container[str]) -> list[LakeEntry]:
        """The files under ``raw/<area>/`` (a source's payloads, or ``documents``), landing
        temporaries included, whose path is not in ``listed``: only those are looked at."""
        found = []
        for folder, _, names in os.walk(self.root / "raw" / area):
            for name in names:
                path = Path(folder) / name
                relative = path.relative_to(self.root).as_posix()
                if relative in listed:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    info = path.stat()
                    found.append(LakeEntry(relative, info.st_size, info.st_mtime))
        return sorted(found)

    def unlisted_table_folders(self, dataset_id: str, listed: Container[str]) -> list[LakeEntry]:
        """The version folders under ``tables/<dataset>/`` not in ``listed``, with the size
        of their files and the time the newest of them (or the folder) last changed."""
        top = self.root / "tables" / dataset_id
        found = []
        for folder in sorted(top.iterdir()) if top.is_dir() else []:
            relative = folder.relative_to(self.root).as_posix()
            if relative in listed or not folder.is_dir() or folder.is_symlink():
                continue
            size, newest = 0, folder.stat().st_mtime
            for file in folder.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    info = file.stat()
                    size += info.st_size
                    newest = max(newest, info.st_mtime)
            found.append(LakeEntry(relative, size, newest))
        return found

    def areas(self) -> tuple[list[str], list[str]]:
        """The folder names under ``raw/`` and under ``tables/``: sources (and
        ``documents``) that landed something, datasets that have table files."""

        def names(top: Path) -> list[str]:
            return sorted(p.name for p in top.iterdir() if p.is_dir()) if top.is_dir() else []

        return names(self.root / "raw"), names(self.root / "tables")

    def remove_empty_folders(self, relative: str, stop: str) -> None:
        """Remove ``relative``'s folder and its parents while they are empty, up to (not
        including) ``stop``."""
        folder = (self.root / relative).parent
        end = self.root / stop
        while folder != end and end in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or gone): its parents are not empty either
            folder = folder.parent


@dataclass(frozen=True, order=True)
class LakeEntry:
    """A file or a table folder in the lake, as found on disk."""

    relative: str
    size: int
    modified: float  # seconds since the epoch


def _copy(
    source: Path, target: Path, on_bytes: Callable[[int], None] | None
) -> _TrailingHash | None:
    """Copy a file in the kernel: in steps with ``os.copy_file_range`` where the system has
    it for these two files, hashed on a thread a step behind the copy, else in one go (and
    hashed later). On two cores the trailing hash is done about when the copy is, instead
    of competing with the parse that follows it."""
    if hasattr(os, "copy_file_range"):
        hashing: _TrailingHash | None = None
        copied = 0
        with source.open("rb") as src, private_files.new_file(target) as dst:
            try:
                while step := os.copy_file_range(src.fileno(), dst.fileno(), _COPY_STEP):
                    copied += step
                    hashing = hashing or _TrailingHash(target)
                    hashing.advance(copied)
                    if on_bytes is not None:
                        on_bytes(copied)
            except OSError:
                if hashing is not None:
                    hashing.finish()  # abandoned: nobody asks for its result
                if copied:
                    raise
                # Not between these filesystems (EXDEV), or not here: copy in one go below.
            else:
                if hashing is not None:
                    hashing.finish()
                return hashing
    if not target.exists():
        private_files.new_file(target).close()
    shutil.copyfile(source, target)  # into the private file: its mode stays
    if on_bytes is not None:
        on_bytes(target.stat().st_size)
    return None


class _TrailingHash:
    """The SHA-256 of a file being written, read behind the writer on a thread of its own:
    the writer says how far it has written (``advance``) and when it is done (``finish``)."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("rb")  # opened now: the file is renamed once written
        self._written = 0
        self._finished = False
        self._moved = threading.Condition()
        self._digest = ""
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="raw-hash", daemon=True)
        self._thread.start()

    def advance(self, written: int) -> None:
        with self._moved:
            self._written = written
            self._moved.notify()

    def finish(self) -> None:
        with self._moved:
            self._finished = True
            self._moved.notify()

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest

    def _run(self) -> None:
        digest = hashlib.sha256()
        done = 0
        try:
            with self._handle:
                while True:
                    with self._moved:
                        while self._written <= done and not self._finished:
                            self._moved.wait()
                        until, finished = self._written, self._finished
                    while done < until:
                        chunk = self._handle.read(min(_CHUNK, until - done))
                        if not chunk:
                            raise OSError(f"{self._handle.name}: shorter than written")
                        digest.update(chunk)
                        done += len(chunk)
                    if finished:
                        break
            self._digest = digest.hexdigest()
        except OSError as error:
            self._error = error


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
