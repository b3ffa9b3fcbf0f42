"""Files and folders that hold secrets or restricted data are the server user's alone.

The metadata store (password hashes, sealed second-factor seeds, quarantined rows), the
secret key, the demo's credentials and the lake (raw copies and curated tables of
restricted datasets) are written here with mode 600 (files) and 700 (folders), whatever the
process umask, and older, looser ones are tightened when a workspace is opened. No other
account on the machine can read them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_OTHERS = 0o077  # group and other bits
# Files SQLite keeps beside a database: written ahead log, shared memory index, rollback journal.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_folder(path: Path) -> Path:
    """Create ``path`` and any missing parents as private folders (700); an existing
    folder keeps its mode (see :func:`restrict`)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # made by another process or thread meanwhile
    return path


def new_file(path: Path) -> IO[bytes]:
    """Create ``path`` (it must not exist, not even as a link) as a private file open
    for writing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    return os.fdopen(fd, "wb")


def write_new(path: Path, content: str) -> None:
    """Write a new private text file (UTF-8) in one go."""
    with new_file(path) as handle:
        handle.write(content.encode("utf-8"))


def touch(path: Path) -> None:
    """Make sure ``path`` exists as a private file, creating it empty if missing."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    except FileExistsError:
        restrict(path)


def restrict(path: Path) -> None:
    """Take group and other access away from an existing file or folder this user owns;
    a missing path, or one owned by another account, is left alone."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if mode & _OTHERS and info.st_uid == os.geteuid():
        os.chmod(path, mode & ~_OTHERS)


def restrict_all(paths: Iterable[Path]) -> None:
    for path in paths:
        restrict(path)


def sqlite_files(database: Path) -> list[Path]:
    """A SQLite database file and the files SQLite keeps beside it."""
    return [database, *(database.with_name(database.name + s) for s in SQLITE_COMPANIONS)]
