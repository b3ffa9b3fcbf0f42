"""Tables of the metadata store: plan revisions, data versions, runs, observations, users, audit.

One module per meaning; every name is imported from here (``civicstat.metadata.models``),
which also makes every table known to ``Base.metadata``. Every schema change goes through
an Alembic migration in ``migrations/versions``; a test checks that the migrations and
these models agree.
"""

from __future__ import annotations

from civicstat.metadata.models._accountability import (
    ActionItem,
    ActionItemChange,
    AgreementReview,
    ObjectiveComment,
    PerformanceAgreement,
    StatMeeting,
)
from civicstat.metadata.models._accounts import (
    AccessRequest,
    ApiToken,
    SignInAttempt,
    SignInChallenge,
    User,
    WebSession,
)
from civicstat.metadata.models._audit import AuditEvent
from civicstat.metadata.models._base import NAMING, Base, UTCDateTime, utcnow
from civicstat.metadata.models._data import DatasetHead, DataVersion, Document, Observation
from civicstat.metadata.models._plan import Definition, MeasureApproval, Revision, SpecObject
from civicstat.metadata.models._runs import (
    IngestRun,
    PushBatch,
    QualityResult,
    QuarantinedRow,
    RawFile,
    SourceLock,
    SourceState,
)

__all__ = [
    "NAMING",
    "AccessRequest",
    "ActionItem",
    "ActionItemChange",
    "AgreementReview",
    "ApiToken",
    "AuditEvent",
    "Base",
    "DataVersion",
    "DatasetHead",
    "Definition",
    "Document",
    "IngestRun",
    "MeasureApproval",
    "ObjectiveComment",
    "Observation",
    "PerformanceAgreement",
    "PushBatch",
    "QualityResult",
    "QuarantinedRow",
    "RawFile",
    "Revision",
    "SignInAttempt",
    "SignInChallenge",
    "SourceLock",
    "SourceState",
    "SpecObject",
    "StatMeeting",
    "UTCDateTime",
    "User",
    "WebSession",
    "utcnow",
]
