"""The heads of the audit log that a verification compares the chain with: given on the
command line, or read from the heads files that ``audit head`` appends to."""

from __future__ import annotations

from pathlib import Path

from civicstat.governance import audit_heads
from civicstat.governance.audit import Checkpoint
from civicstat.services.errors import InvalidInput

__all__ = ["Checkpoint", "read_heads"]


def read_heads(path: Path) -> list[Checkpoint]:
    """The heads exported to ``path``; InvalidInput, saying ``file:line: what``, when the
    file cannot be read."""
    try:
        return audit_heads.read(path)
    except audit_heads.HeadsFileError as error:
        raise InvalidInput(str(error)) from error
