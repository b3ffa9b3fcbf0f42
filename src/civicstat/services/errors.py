"""Errors services raise; the web and CLI layers turn them into answers.

Besides their own, services let through a few errors of the engines, named here so that a
driver needs nothing but the services to catch them. Those whose modules load SQLAlchemy or
DuckDB are imported when first asked for, so that this module stays light (``civicstat
validate`` loads neither)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from civicstat.governance.permissions import PermissionDenied
from civicstat.governance.secrets import InsecureSecretKey
from civicstat.spec.workspace import SpecError

if TYPE_CHECKING:
    from civicstat.governance.audit import AuditUnavailable
    from civicstat.pipeline.locks import SourceBusy
    from civicstat.pipeline.runner import IngestError

__all__ = [
    "AuditUnavailable",
    "Forbidden",
    "IngestError",
    "InsecureSecretKey",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "ServiceError",
    "SourceBusy",
    "SpecError",
]


class ServiceError(Exception):
    """Base of the errors a caller is expected to show to a person."""


class NotFound(ServiceError):
    """The object does not exist, or the actor may not know that it does."""

    @classmethod
    def of(cls, kind: str, object_id: str) -> NotFound:
        """The one message for a missing object, also used for one the actor may not see."""
        return cls(f"no {kind} {object_id!r}")


class InvalidInput(ServiceError):
    """The request cannot be carried out as asked; the message says why."""


class Forbidden(ServiceError):
    """The actor sees the object but may not do this to it (unmask it, say); the message
    says what is missing. Never for an object they may not see: that is NotFound."""


_ENGINE_ERRORS = {
    "AuditUnavailable": "civicstat.governance.audit",
    "IngestError": "civicstat.pipeline.runner",
    "SourceBusy": "civicstat.pipeline.locks",
}


def __getattr__(name: str) -> type[Exception]:
    """An engine's error named in ``__all__``, its module loaded on first use."""
    if name not in _ENGINE_ERRORS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    error: type[Exception] = getattr(importlib.import_module(_ENGINE_ERRORS[name]), name)
    return error
