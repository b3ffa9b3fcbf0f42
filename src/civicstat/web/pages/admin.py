"""Governance administration, for administrators: users and their roles, access requests,
sharing agreements, and measures awaiting approval for publication. Each form posts, then
redirects back to its section (303); a refused input shows the page again with the message
in that section. Every decision is the services' (which check and audit it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from annotated_types import Ge, Le
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from civicstat.governance.actors import Actor, Role
from civicstat.services import access, publication
from civicstat.services.accounts import users
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput
from civicstat.web.deps import Ctx, CurrentActor, FormActor
from civicstat.web.params import RowId
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)

Note = Annotated[str, Form(max_length=2000)]
Days = Annotated[int, Ge(1), Le(access.MAX_DAYS)]
RequestId = Annotated[RowId, Path()]
ROLES = [role.value for role in Role]


def _page(
    request: Request, ctx: Context, actor: Actor, error: dict[str, str] | None = None
) -> Response:
    # Listing the users is for administrators only: anyone else is told the page does not exist.
    accounts = users.list_users(ctx, actor)
    requests = access.list_requests(ctx, actor)
    return render(
        request,
        "admin.html",
        {
            "title": "Governance administration",
            "users": accounts,
            "roles": ROLES,
            "pending": [r for r in requests if r.status == access.PENDING],
            "decided": [r for r in requests if r.status != access.PENDING][:50],
            "agreements": access.sharing_agreements(ctx, actor),
            "publications": publication.awaiting(ctx, actor),
            "max_days": access.MAX_DAYS,
            "error": error or {},
        },
        status_code=400 if error else 200,
    )


def _attempt(
    request: Request, ctx: Context, actor: Actor, do: Callable[[], object], section: str
) -> Response:
    """Do it and go back to the section; a refused input shows the page with the message."""
    try:
        do()
    except InvalidInput as error:
        return _page(request, ctx, actor, {"form": section, "message": str(error)})
    return RedirectResponse(f"/admin#{section}", status_code=303)


@router.get("/admin")
def admin_page(request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    return _page(request, ctx, actor)


@router.post("/admin/users/{username}/role")
def user_role(
    username: str,
    request: Request,
    ctx: Ctx,
    actor: FormActor,
    role: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    def change() -> None:
        if role not in ROLES:
            raise InvalidInput(f"a role is one of {', '.join(ROLES)}")
        users.set_role(ctx, actor, username, Role(role))

    return _attempt(request, ctx, actor, change, "users")


@router.post("/admin/users/{username}/disable")
def user_disable(username: str, request: Request, ctx: Ctx, actor: FormActor) -> Response:
    return _attempt(request, ctx, actor, lambda: users.disable(ctx, actor, username), "users")


@router.post("/admin/users/{username}/enable")
def user_enable(username: str, request: Request, ctx: Ctx, actor: FormActor) -> Response:
    return _attempt(request, ctx, actor, lambda: users.enable(ctx, actor, username), "users")


@router.post("/admin/users/{username}/unlock")
def user_unlock(username: str, request: Request, ctx: Ctx, actor: FormActor) -> Response:
    return _attempt(request, ctx, actor, lambda: users.unlock(ctx, actor, username), "users")


@router.post("/admin/access/{request_id}/approve")
def access_approve(
    request_id: RequestId,
    request: Request,
    ctx: Ctx,
    actor: FormActor,
    days: Annotated[Days | None, Form(description="empty: the days asked for")] = None,
    note: Note = "",
) -> Response:
    def approve() -> None:
        access.approve(ctx, actor, request_id, days=days, note=note)

    return _attempt(request, ctx, actor, approve, "access")


@router.post("/admin/access/{request_id}/deny")
def access_deny(
    request_id: RequestId, request: Request, ctx: Ctx, actor: FormActor, note: Note = ""
) -> Response:
    def deny() -> None:
        access.deny(ctx, actor, request_id, note=note)

    return _attempt(request, ctx, actor, deny, "access")


@router.post("/admin/measures/{measure_id}/approve")
def measure_approve(
    measure_id: str, request: Request, ctx: Ctx, actor: FormActor, note: Note = ""
) -> Response:
    return _attempt(
        request,
        ctx,
        actor,
        lambda: publication.approve(ctx, actor, measure_id, note=note),
        "publication",
    )
