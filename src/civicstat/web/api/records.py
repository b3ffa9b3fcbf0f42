"""``POST /api/v1/sources/{source_id}/records``: a source's system pushes a batch of records.

Machines authenticate with an API token (``Authorization: Bearer …``), never a browser
session, so the endpoint needs no CSRF token and a stolen cookie cannot push. The route
only reads headers and a bounded body; :mod:`civicstat.services.push` decides everything.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from civicstat.governance.actors import Actor
from civicstat.metadata.ids import INT64_MAX
from civicstat.services import push
from civicstat.services.accounts import tokens
from civicstat.services.push import PushAnswer
from civicstat.web.deps import Ctx
from civicstat.web.params import digits

router = APIRouter(tags=["push"])
_bearer = HTTPBearer(auto_error=False, description="An API token: civicstat tokens create")

_REFUSALS = (
    push.PayloadTooLarge,
    push.UnsupportedContentType,
    push.BatchConflict,
    push.TryLater,
)
_STATUS: dict[type[Exception], int] = {
    push.PayloadTooLarge: 413,
    push.UnsupportedContentType: 415,
    push.BatchConflict: 409,
    push.TryLater: 503,
}
_KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]{0,198}[\x21-\x7e])?$"
# Declared by hand: the service, not FastAPI, reads the body and the key, so that each
# refusal says exactly what to send.
_DOCUMENTED: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "description": "Unique per batch (e.g. a UUID); a retry with it never loads twice",
            # 1-200 printable ASCII characters, no space at either end.
            "schema": {"type": "string", "pattern": _KEY_PATTERN},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
}


def token_actor(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """The machine behind a bearer token that may push somewhere; 401 for anything else.

    Which sources it may push to is the service's question, answered 404 like an unknown
    source. The answer never repeats the token.
    """
    actor = None
    if credentials is not None:
        actor = tokens.authenticate_token(ctx, credentials.credentials, "source:push")
    if actor is None:
        raise HTTPException(
            status_code=401,
            detail="a valid API token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="civicstat"'},
        )
    return actor


TokenActor = Annotated[Actor, Depends(token_actor)]


@router.post(
    "/sources/{source_id}/records",
    response_model=PushAnswer,
    status_code=201,
    openapi_extra=_DOCUMENTED,
    responses={
        200: {
            "model": PushAnswer,
            "description": "Nothing new to publish, or a replay (Idempotent-Replay: true)",
        },
        400: {"description": "No Idempotency-Key, or a malformed batch (record/line named)"},
        401: {"description": "No valid API token"},
        404: {"description": "No such source, or one the token may not push to"},
        409: {"description": "Idempotency-Key used for another body, or still loading"},
        413: {"description": "Body larger than the source's max_bytes"},
        415: {"description": "Content-Type not accepted by the source"},
        422: {
            "model": PushAnswer,
            "description": "The batch was read but its run failed; nothing was published",
        },
        503: {"description": "The source stayed busy with another run; see Retry-After"},
    },
)
async def push_records(
    source_id: str,
    request: Request,
    ctx: Ctx,
    actor: TokenActor,
) -> JSONResponse:
    """Load a batch of records (a JSON array, or NDJSON) as a new run of a push source."""
    content_type = request.headers.get("content-type")
    idempotency_key = request.headers.get("idempotency-key")
    try:
        target = await run_in_threadpool(
            push.check_request,
            ctx,
            actor,
            source_id,
            content_type=content_type,
            idempotency_key=idempotency_key,
            content_length=_declared_length(request),
        )
        body = await _read_at_most(request, target.max_bytes)
        result = await run_in_threadpool(
            push.push, ctx, actor, source_id, body, content_type, idempotency_key
        )
    except push.MalformedBatch as error:
        return JSONResponse(
            {"detail": str(error), "record": error.record, "line": error.line}, status_code=400
        )
    except _REFUSALS as error:
        headers = {"Retry-After": "5"} if isinstance(error, push.TryLater) else None
        return JSONResponse(
            {"detail": str(error)}, status_code=_STATUS[type(error)], headers=headers
        )
    answer = result.answer
    if answer.status == "failed":
        status = 422
    elif result.replayed or answer.status == "unchanged":
        status = 200
    else:
        status = 201
    headers = {"Idempotent-Replay": "true"} if result.replayed else None
    return JSONResponse(answer.model_dump(mode="json"), status_code=status, headers=headers)


def _declared_length(request: Request) -> int | None:
    return digits(request.headers.get("content-length"), INT64_MAX)


async def _read_at_most(request: Request, limit: int) -> bytes:
    """The body, or its first ``limit + 1`` bytes: enough for the service to refuse it as
    too large, without holding whatever a client chose to send."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]
