"""The accountability pages: a department head signs their agreement through its form, an
objective gathers explanations and action items, and the stat meeting lists the agenda.
Refused input comes back on the page, tied to its field; what people type is escaped."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from web_helpers import ON_SQLITE_ONLY, MakeUser, hidden_field, sign_in, tags

from civicstat.governance.actors import Actor, Role
from civicstat.services import agreements, ingest
from civicstat.services.context import Context

pytestmark = ON_SQLITE_ONLY

AGREEMENT = "/departments/customer-service/agreement"
OBJECTIVE = "/objectives/close-requests-on-time"


def _post(client: TestClient, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    token = hidden_field(client.get(page).text, "csrf_token")
    response: httpx.Response = client.post(action, data={**data, "csrf_token": token})
    return response


def test_a_department_head_drafts_and_signs_their_agreement(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    sign_in(client, make_user(Role.DEPARTMENT_HEAD, username="cs-head"))

    page = client.get(AGREEMENT)
    assert page.status_code == 200
    assert "No agreement has been drafted" in page.text
    drafted = _post(client, AGREEMENT, f"{AGREEMENT}/draft", {"statement": "<b>We commit</b>"})
    assert drafted.status_code == 303
    page = client.get(AGREEMENT)
    assert "&lt;b&gt;We commit&lt;/b&gt;" in page.text
    assert "Close 85% of service requests by their due date" in page.text

    refused = _post(client, AGREEMENT, f"{AGREEMENT}/sign", {"version": "1"})
    assert refused.status_code == 400
    checkbox = next(a for _, a in tags(refused.text) if a.get("id") == "sign-confirm")
    assert checkbox.get("aria-describedby") == "sign-error"
    assert 'id="sign-error"' in refused.text

    signed = _post(client, AGREEMENT, f"{AGREEMENT}/sign", {"version": "1", "confirm": "yes"})
    assert signed.status_code == 303
    page = client.get(AGREEMENT)
    assert "Signed" in page.text
    assert "matches the content" in page.text
    assert "Sign the agreement" not in page.text
    assert "Amend the agreement" in page.text


def test_an_admin_sees_the_draft_but_no_signing_form(
    client: TestClient, make_user: MakeUser, example_ctx: Context, admin: Actor
) -> None:
    agreements.draft(example_ctx, admin, "customer-service")
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    page = client.get(AGREEMENT)

    assert "Only the head of 311 Customer Service can sign" in page.text
    forged = client.post(
        f"{AGREEMENT}/sign",
        data={
            "version": "1",
            "confirm": "yes",
            "csrf_token": hidden_field(page.text, "csrf_token"),
        },
    )
    assert forged.status_code == 404


def test_an_objective_takes_an_explanation_and_an_action_item(
    client: TestClient, make_user: MakeUser, example_ctx: Context, admin: Actor
) -> None:
    ingest.ingest(example_ctx, admin, "service_requests")
    sign_in(client, make_user(Role.DEPARTMENT_HEAD, username="cs-head"))
    page = client.get(OBJECTIVE)
    assert "is asked to explain why" in page.text

    _post(client, OBJECTIVE, f"{OBJECTIVE}/comments", {"text": "Two call-takers left."})
    bad = _post(
        client,
        OBJECTIVE,
        f"{OBJECTIVE}/actions",
        {"title": "Hire", "owner": "cs-head", "due": "soon"},
    )
    assert bad.status_code == 400
    assert "a due date is a date" in bad.text
    added = _post(
        client,
        OBJECTIVE,
        f"{OBJECTIVE}/actions",
        {"title": "Hire two", "owner": "cs-head", "due": "2025-06-30"},
    )
    assert added.status_code == 303

    page = client.get(OBJECTIVE)
    assert "Two call-takers left." in page.text
    assert "Hire two" in page.text
    assert "is asked to explain why" not in page.text


def test_the_stat_page_lists_the_agenda_and_records_a_meeting(
    client: TestClient, make_user: MakeUser, example_ctx: Context, admin: Actor
) -> None:
    ingest.ingest(example_ctx, admin, "service_requests")
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    page = client.get("/stat")
    assert page.status_code == 200
    assert "Close 85% of service requests by their due date" in page.text
    recorded = _post(
        client, "/stat", "/stat/meetings", {"held_on": "2025-04-01", "attendees": "Manager, 311"}
    )
    assert recorded.status_code == 303
    page = client.get("/stat")
    assert "Since the last meeting, on 2025-04-01" in page.text


def test_a_viewer_reads_but_has_no_forms(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    sign_in(client, make_user(Role.VIEWER))

    assert client.get(AGREEMENT).status_code == 200
    page = client.get(OBJECTIVE)
    assert page.status_code == 200
    assert '<form method="post" action="/objectives' not in page.text
    assert client.get("/stat").status_code == 404  # viewers are not at the stat meeting
