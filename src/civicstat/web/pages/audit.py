"""The audit log, for administrators: recent events, filtered, and a check of its chain.
Reading it is itself recorded (see ``services.audit``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from civicstat.services import audit
from civicstat.web.deps import Ctx, CurrentActor
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/audit")
def audit_page(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    action: Annotated[str, Query(max_length=100)] = "",
    who: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    verify: bool = False,
) -> Response:
    check = audit.verify(ctx, actor) if verify else None
    events = audit.recent(ctx, actor, limit=limit, action=action or None, who=who or None)
    return render(
        request,
        "audit.html",
        {
            "title": "Audit log",
            "events": events,
            "check": check,
            "filters": {"action": action, "who": who, "limit": limit},
        },
    )
