"""Accountability pages: a department's performance agreement, an objective's commentary
and action items, and the stat meeting. Each form posts, then redirects back (303); a
refused input is shown again on the page, tied to its field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from civicstat.services import actions, agreements, stat_meeting
from civicstat.services.errors import InvalidInput
from civicstat.web.deps import Ctx, CurrentActor, FormActor
from civicstat.web.params import RowId, StoredInt
from civicstat.web.templating import render

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=10_000)]


def _done(path: str, anchor: str) -> Response:
    return RedirectResponse(f"{path}#{anchor}", status_code=303)


def _attempt(do: Callable[[], object], form: str, again: Callable[[dict[str, str]], Response],
             path: str) -> Response:  # fmt: skip
    """Do it and go back to the page; if the input is refused, show the page again with
    the message on the form that sent it."""
    try:
        do()
    except InvalidInput as error:
        return again({"form": form, "message": str(error)})
    return _done(path, form)


# -- performance agreement ------------------------------------------------------------


def _agreement(
    request: Request, ctx: Ctx, actor: CurrentActor, department_id: str,
    error: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    view = agreements.get(ctx, actor, department_id)
    return render(
        request,
        "agreement.html",
        {"title": f"Performance agreement: {view.department_title}", "view": view,
         "quarters": agreements.QUARTERS, "error": error or {}},
        status_code=400 if error else 200,
    )  # fmt: skip


@router.get("/departments/{department_id}/agreement")
def agreement_page(department_id: str, request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    return _agreement(request, ctx, actor, department_id)


@router.post("/departments/{department_id}/agreement/draft")
def agreement_draft(
    department_id: str, request: Request, ctx: Ctx, actor: FormActor, statement: Text = ""
) -> Response:
    return _attempt(
        lambda: agreements.draft(ctx, actor, department_id, statement),
        "draft",
        lambda e: _agreement(request, ctx, actor, department_id, e),
        f"/departments/{department_id}/agreement",
    )


@router.post("/departments/{department_id}/agreement/amend")
def agreement_amend(
    department_id: str, request: Request, ctx: Ctx, actor: FormActor, statement: Text = ""
) -> Response:
    return _attempt(
        lambda: agreements.amend(ctx, actor, department_id, statement),
        "amend",
        lambda e: _agreement(request, ctx, actor, department_id, e),
        f"/departments/{department_id}/agreement",
    )


@router.post("/departments/{department_id}/agreement/sign")
def agreement_sign(
    department_id: str,
    request: Request,
    ctx: Ctx,
    actor: FormActor,
    version: Annotated[StoredInt, Form()] = 0,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    def sign() -> None:
        if confirm != "yes":
            raise InvalidInput("tick the box to confirm that you commit to this agreement")
        agreements.sign(ctx, actor, department_id, version)

    return _attempt(
        sign,
        "sign",
        lambda e: _agreement(request, ctx, actor, department_id, e),
        f"/departments/{department_id}/agreement",
    )


@router.post("/departments/{department_id}/agreement/reviews")
def agreement_review(
    department_id: str,
    request: Request,
    ctx: Ctx,
    actor: FormActor,
    quarter: Annotated[str, Form(max_length=4)] = "",
    text: Text = "",
) -> Response:
    return _attempt(
        lambda: agreements.add_review(ctx, actor, department_id, quarter, text),
        "review",
        lambda e: _agreement(request, ctx, actor, department_id, e),
        f"/departments/{department_id}/agreement",
    )


# -- objective: commentary and action items -----------------------------------------------


def _objective(
    request: Request, ctx: Ctx, actor: CurrentActor, objective_id: str,
    error: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    view = actions.get(ctx, actor, objective_id)
    return render(
        request,
        "objective.html",
        {"title": view.objective.title, "view": view, "statuses": actions.STATUSES,
         "error": error or {}},
        status_code=400 if error else 200,
    )  # fmt: skip


@router.get("/objectives/{objective_id}")
def objective_page(objective_id: str, request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    return _objective(request, ctx, actor, objective_id)


@router.post("/objectives/{objective_id}/comments")
def objective_comment(
    objective_id: str,
    request: Request,
    ctx: Ctx,
    actor: FormActor,
    text: Text = "",
    replaces: Annotated[RowId | None, Form()] = None,
) -> Response:
    return _attempt(
        lambda: actions.comment(ctx, actor, objective_id, text, replaces),
        "comment",
        lambda e: _objective(request, ctx, actor, objective_id, e),
        f"/objectives/{objective_id}",
    )


@router.post("/objectives/{objective_id}/actions")
def objective_action(
    objective_id: str,
    request: Request,
    ctx: Ctx,
    actor: FormActor,
    title: Annotated[str, Form(max_length=500)] = "",
    owner: Annotated[str, Form(max_length=150)] = "",
    due: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    def add() -> None:
        try:
            when = dt.date.fromisoformat(due)
        except ValueError:
            raise InvalidInput("a due date is a date, such as 2025-06-30") from None
        actions.add_action(ctx, actor, objective_id, title, owner, when)

    return _attempt(
        add,
        "action",
        lambda e: _objective(request, ctx, actor, objective_id, e),
        f"/objectives/{objective_id}",
    )


@router.post("/objectives/{objective_id}/actions/{action_id}/status")
def action_status(
    objective_id: str,
    action_id: Annotated[RowId, Path()],
    request: Request,
    ctx: Ctx,
    actor: FormActor,
    status: Annotated[str, Form(max_length=16)] = "",
    note: Text = "",
) -> Response:
    def change() -> None:
        actions.set_status(ctx, actor, action_id, status, note)

    return _attempt(
        change,
        f"action-{action_id}",
        lambda e: _objective(request, ctx, actor, objective_id, e),
        f"/objectives/{objective_id}",
    )


# -- stat meeting ---------------------------------------------------------------------


def _stat(
    request: Request, ctx: Ctx, actor: CurrentActor, error: dict[str, str] | None = None
) -> Response:
    view = stat_meeting.agenda(ctx, actor)
    return render(
        request,
        "stat.html",
        {"title": "Stat meeting", "view": view, "today": dt.date.today(), "error": error or {}},
        status_code=400 if error else 200,
    )


@router.get("/stat")
def stat_page(request: Request, ctx: Ctx, actor: CurrentActor) -> Response:
    return _stat(request, ctx, actor)


@router.post("/stat/meetings")
def stat_record(
    request: Request,
    ctx: Ctx,
    actor: FormActor,
    held_on: Annotated[str, Form(max_length=10)] = "",
    attendees: Text = "",
    notes: Text = "",
) -> Response:
    def record() -> None:
        try:
            day = dt.date.fromisoformat(held_on)
        except ValueError:
            raise InvalidInput("the meeting's date is a date, such as 2025-06-30") from None
        stat_meeting.record(ctx, actor, day, attendees, notes)

    return _attempt(record, "meeting", lambda e: _stat(request, ctx, actor, e), "/stat")
