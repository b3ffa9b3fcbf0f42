"""Errors services raise; the web and CLI layers turn them into answers."""

from __future__ import annotations

from civicstat.governance.permissions import PermissionDenied

__all__ = ["Forbidden", "InvalidInput", "NotFound", "PermissionDenied", "ServiceError"]


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
