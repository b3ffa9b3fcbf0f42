"""Heads of the audit chain exported outside the database: one JSON line per export, appended
to a file (mode 600), so that ``audit verify`` can tell a tail cut off or a chain rebuilt,
which the chain alone cannot. Ship the file (or the log lines) to another machine: there,
whoever can change the database and this server's files cannot reach it."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

from civicstat.governance.audit import Checkpoint

__all__ = ["HeadsFileError", "append", "exported_before", "line", "read"]

_HASH = re.compile(r"^[0-9a-f]{64}$")


class HeadsFileError(ValueError):
    """A heads file that cannot be read, with the place: ``file:line: what``."""


def line(checkpoint: Checkpoint, at: dt.datetime, key_id: str) -> str:
    """The exported head as one line of JSON, as the file and the log hold it."""
    return json.dumps(
        {
            "at": at.isoformat(),
            "records": checkpoint.records,
            "head": checkpoint.head,
            "key_id": key_id,
        },
        sort_keys=True,
    )


def append(path: Path, checkpoint: Checkpoint, at: dt.datetime, key_id: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line(checkpoint, at, key_id) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def exported_before(path: Path) -> bool:
    """Whether any head was exported to this file: the chain was keyed then."""
    try:
        with path.open(encoding="utf-8") as handle:
            return any(text.strip() for text in handle)
    except FileNotFoundError:
        return False


def read(path: Path) -> list[Checkpoint]:
    """Every head in the file, oldest first; a line that is not one is an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise HeadsFileError(f"{path}: cannot be read ({error.__class__.__name__})") from error
    heads = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        heads.append(_parse(raw, f"{path}:{number}"))
    return heads


def _parse(raw: str, where: str) -> Checkpoint:
    try:
        entry = json.loads(raw)
    except json.JSONDecodeError as error:
        raise HeadsFileError(f"{where}: not a line written by 'civicstat audit head'") from error
    if not isinstance(entry, dict):
        raise HeadsFileError(f"{where}: not a line written by 'civicstat audit head'")
    records, head = entry.get("records"), entry.get("head")
    if type(records) is not int or records < 0:
        raise HeadsFileError(f"{where}: 'records' is not a whole number of records")
    if not isinstance(head, str) or not _HASH.match(head):
        raise HeadsFileError(f"{where}: 'head' is not a hash (64 hexadecimal digits)")
    return Checkpoint(records, head)
