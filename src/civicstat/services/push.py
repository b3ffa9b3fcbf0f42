"""Push: a source's own system sends a batch of records, which becomes a run of that source.

The one door for the API route (and any other caller). A batch is checked before anything
is kept: the actor may push to the source (``source:push``), the source's connector is
``push``, the body is a format the source accepts, within its size limit, and a well-formed
batch of records. Only then does it run as every run does, through
:func:`civicstat.services.ingest.ingest`: landed as-is, loaded by the source's ``load:``
mode, checked, published, and the measures over the dataset recomputed.

Every batch carries an Idempotency-Key, so a client that lost the answer can send the same
batch again without loading it twice (the protocol: :mod:`civicstat.pipeline.batches`).
Sending the same key with the same body answers from the record without loading; with a
different body, or while the first is still running, it is a conflict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, cast

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from civicstat.connectors import pushed
from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import SOURCE_PUSH, PermissionDenied, Resource, allowed
from civicstat.metadata import data_versions
from civicstat.metadata.models import IngestRun, utcnow
from civicstat.pipeline import batches
from civicstat.pipeline.batches import BatchKey, Earlier, client_of
from civicstat.pipeline.locks import SourceBusy
from civicstat.services import ingest as ingest_service
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound, ServiceError
from civicstat.spec.models import Source

_KEY = re.compile(r"^[\x20-\x7e]{1,200}$")
_KEY_REQUIRED = (
    "an Idempotency-Key header is required: 1-200 printable ASCII characters, unique per "
    "batch (e.g. a UUID), so a retried batch is never loaded twice"
)
_OTHER_BODY = "this Idempotency-Key was already used for a different batch; use a new key"
_STILL_LOADING = "a batch with this Idempotency-Key is still being loaded; retry later"

PushStatus = Literal["succeeded", "unchanged", "failed"]


class PayloadTooLarge(ServiceError):
    """The body is larger than the source's ``max_bytes`` (HTTP 413)."""


class UnsupportedContentType(ServiceError):
    """The body is not in a format the source accepts (HTTP 415)."""


class BatchConflict(ServiceError):
    """The Idempotency-Key is in use by a different body, or by a batch still running (409)."""


class TryLater(ServiceError):
    """The source is busy with another run; nothing was kept, send the batch again (503)."""


class MalformedBatch(InvalidInput):
    """The body is not a batch of records; ``record`` and ``line`` say where (HTTP 400)."""

    def __init__(self, message: str, record: int | None, line: int | None) -> None:
        super().__init__(message)
        self.record = record
        self.line = line


class PushAnswer(BaseModel):
    """What a client is told about its batch; stored, and told again on a retry."""

    source: str
    dataset: str
    idempotency_key: str
    status: PushStatus = Field(
        description="succeeded: a new data version was published; unchanged: nothing new "
        "to publish; failed: nothing was published (see error)"
    )
    run_id: int
    records: int = Field(description="Records in the batch")
    rows_loaded: int
    rows_quarantined: int
    version: int | None = Field(description="The dataset's published version after the batch")
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class PushResult:
    answer: PushAnswer
    replayed: bool  # answered from the record of an earlier request with the same key


@dataclass(frozen=True)
class PushTarget:
    """What a caller needs to read a body for a source without holding more than it may."""

    source_id: str
    max_bytes: int


def check_request(
    ctx: Context,
    actor: Actor,
    source_id: str,
    *,
    content_type: str | None,
    idempotency_key: str | None,
    content_length: int | None = None,
) -> PushTarget:
    """Everything that can be refused before the body is read, so the API need not read it."""
    source, options = _push_source(ctx, actor, source_id)
    _check_headers(ctx, actor, source, options, content_type, idempotency_key, content_length)
    return PushTarget(source.id, options.max_bytes)


def push(
    ctx: Context,
    actor: Actor,
    source_id: str,
    body: bytes,
    content_type: str | None,
    idempotency_key: str | None,
    *,
    now: dt.datetime | None = None,
) -> PushResult:
    """Load one pushed batch as a run of the source, at most once per Idempotency-Key."""
    now = now or utcnow()
    source, options = _push_source(ctx, actor, source_id)
    fmt, key = _check_headers(ctx, actor, source, options, content_type, idempotency_key, len(body))
    digest = hashlib.sha256(body).hexdigest()
    batch_key = BatchKey(client_of(actor), source.id, key)
    earlier = batches.earlier(ctx.db, batch_key, digest, now)
    if earlier is not None:
        return _answer_again(ctx, actor, source, key, earlier)
    try:
        records = pushed.count_records(body, fmt)
    except pushed.BatchError as error:
        _refuse(ctx, actor, source, MalformedBatch(str(error), error.record, error.line), key)
    claim = batches.claim(ctx.db, batch_key, actor.token_id, digest, now)
    if claim is None:  # another request took the key between our look and our claim
        return _answer_again(ctx, actor, source, key, batches.recorded(ctx.db, batch_key, digest))

    answers: list[PushAnswer] = []

    def respond(session: Session, run: IngestRun) -> dict[str, Any]:
        """The batch's answer, audited in the pipeline's transaction recording the run."""
        answer = _answer_of(session, run, source, key, records)
        audit.record(
            session, actor, "source:push", "source", source.id,
            "failed" if answer.status == "failed" else "ok",
            run_id=run.id, idempotency_key=key, records=records, status=answer.status,
            version=answer.version,
        )  # fmt: skip
        answers.append(answer)
        return answer.model_dump(mode="json")

    payload = pushed.batch_payload(body, fmt, f"push-{digest[:16]}.{fmt}")
    try:
        batches.load(
            ctx.db,
            claim,
            lambda: ingest_service.ingest(
                ctx, actor, source.id, trigger="push", payloads=[payload],
                on_finish=claim.on_finish(respond),
            ),
        )  # fmt: skip
    except SourceBusy:
        _refuse(ctx, actor, source, TryLater(f"source {source.id!r} is busy; retry shortly"), key)
    return PushResult(answers[0], replayed=False)


def _push_source(ctx: Context, actor: Actor, source_id: str) -> tuple[Source, pushed.PushOptions]:
    """The source, if the actor may push to it; one answer for unknown and forbidden."""
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    source = plan.sources.get(source_id)
    resource = Resource(
        "source",
        source_id,
        source.owner if source else None,
        source.classification if source else None,
    )
    if source is None or not allowed(actor, SOURCE_PUSH, resource):
        if actor.is_authenticated:
            with ctx.db.write() as session:
                audit.record(session, actor, "source:push", "source", source_id[:500], "denied")
        if source is None:
            raise NotFound.of("source", source_id)
        raise PermissionDenied(actor, SOURCE_PUSH, resource)
    if source.connector != "push":
        why = f"source {source.id!r} does not accept pushes: its connector is {source.connector!r}"
        _refuse(ctx, actor, source, InvalidInput(why))
    return source, pushed.PushOptions.model_validate(source.options)


def _check_headers(
    ctx: Context,
    actor: Actor,
    source: Source,
    options: pushed.PushOptions,
    content_type: str | None,
    idempotency_key: str | None,
    size: int | None,
) -> tuple[pushed.PushFormat, str]:
    fmt = pushed.format_of(content_type)
    if fmt is None or fmt not in options.formats:
        accepted = " or ".join(pushed.MEDIA_TYPES[f] for f in options.formats)
        _refuse(
            ctx, actor, source, UnsupportedContentType(f"send the records as {accepted} (UTF-8)")
        )
    if size is not None and size > options.max_bytes:
        why = f"the body is over source {source.id!r}'s limit of {options.max_bytes:,} bytes"
        _refuse(ctx, actor, source, PayloadTooLarge(why))
    key = (idempotency_key or "").strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]  # the structured-field form: Idempotency-Key: "abc"
    if not _KEY.match(key):
        _refuse(ctx, actor, source, InvalidInput(_KEY_REQUIRED))
    return fmt, key


def _answer_again(
    ctx: Context, actor: Actor, source: Source, key: str, earlier: Earlier
) -> PushResult:
    """A key seen before: the recorded answer for the same body, a conflict otherwise."""
    if not earlier.same_body:
        _refuse(ctx, actor, source, BatchConflict(_OTHER_BODY), key)
    if earlier.pending:
        _refuse(ctx, actor, source, BatchConflict(_STILL_LOADING), key)
    answer = PushAnswer.model_validate(earlier.response)
    with ctx.db.write() as session:
        audit.record(
            session,
            actor,
            "source:push",
            "source",
            source.id,
            "failed" if answer.status == "failed" else "ok",
            run_id=answer.run_id,
            idempotency_key=key,
            replay=True,
        )
    return PushResult(answer, replayed=True)


def _answer_of(
    session: Session, run: IngestRun, source: Source, key: str, records: int
) -> PushAnswer:
    current = data_versions.current(session, source.dataset_id)
    status = run.status if run.status in ("succeeded", "unchanged") else "failed"
    return PushAnswer(
        source=source.id,
        dataset=source.dataset_id,
        idempotency_key=key,
        status=cast(PushStatus, status),
        run_id=run.id,
        records=records,
        rows_loaded=run.rows_loaded or 0,
        rows_quarantined=run.rows_quarantined or 0,
        version=current.version if current is not None else None,
        error=run.error,
        warnings=[str(w) for w in run.warnings or []],
    )


def _refuse(
    ctx: Context, actor: Actor, source: Source, error: ServiceError, key: str | None = None
) -> NoReturn:
    """Record the refused push in the audit log, then raise ``error``."""
    detail: dict[str, Any] = {"reason": str(error)[:500]}
    if key is not None:
        detail["idempotency_key"] = key
    with ctx.db.write() as session:
        audit.record(session, actor, "source:push", "source", source.id, "failed", **detail)
    raise error
