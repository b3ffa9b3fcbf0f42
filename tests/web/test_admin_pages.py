"""The governance administration page: an admin manages users, decides access requests,
reads the sharing agreements and approves measures for publication, through forms; anyone
else is told the page does not exist. What people typed is escaped."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from web_helpers import ON_SQLITE_ONLY, PASSWORD, MakeUser, hidden_field, sign_in, table_rows

from civicstat.governance.actors import Actor, Role
from civicstat.services import access, publication, workspace
from civicstat.services.accounts import users
from civicstat.services.context import Context

pytestmark = ON_SQLITE_ONLY

DATASET = "service_requests"
AGREEMENT = """
agreements:
  - id: works-311
    title: 311 requests for street repair planning
    parties:
      - department: public-works
      - external: County Roads Authority
    datasets: [service_requests]
    purpose: Plan pothole repairs
    legal_basis: Interlocal agreement 2025-14
    start: 2026-01-01
    expires: 2026-03-31
    approver: Dana Ruiz, Chief Data Officer
"""


@pytest.fixture
def governed_ctx(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    """The 311 dataset confidential (beyond an analyst's clearance) and shared with public
    works by an agreement for the first quarter of 2026."""
    source = example_root / "sources" / f"{DATASET}.yaml"
    text = source.read_text(encoding="utf-8")
    assert text.count("\nclassification: public\n") == 1
    source.write_text(
        text.replace("\nclassification: public\n", "\nclassification: confidential\n"),
        encoding="utf-8",
    )
    governance = example_root / "governance.yaml"
    governance.write_text(governance.read_text(encoding="utf-8") + AGREEMENT, encoding="utf-8")
    assert workspace.apply(example_ctx, admin).revision is not None
    return example_ctx


def _post(client: TestClient, action: str, data: dict[str, str]) -> httpx.Response:
    """Submit a form of the admin page as a browser does, with the page's CSRF token."""
    token = hidden_field(client.get("/admin").text, "csrf_token")
    response: httpx.Response = client.post(action, data={**data, "csrf_token": token})
    return response


def test_an_admin_sees_users_requests_agreements_and_approvals(
    client: TestClient, make_user: MakeUser, governed_ctx: Context, admin: Actor
) -> None:
    analyst = make_user(Role.ANALYST, username="ana")
    access.request(governed_ctx, admin, DATASET, reason="Backlog study", for_user=analyst)
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    page = client.get("/admin")

    assert page.status_code == 200
    for heading in ("Users", "Access requests", "Sharing agreements", "Publication approvals"):
        assert f">{heading}</h2>" in page.text
    rows = table_rows(page.text)
    assert any(row[:3] == ["ana", "ana", "analyst"] and "Not enrolled" in row for row in rows)
    assert any(row[1:4] == [DATASET, "ana", "Backlog study"] for row in rows)
    agreement = next(row for row in rows if row[0].startswith("311 requests for street"))
    assert agreement[1:5] == [
        "public-works; County Roads Authority",
        DATASET,
        "Plan pothole repairs",
        "Interlocal agreement 2025-14",
    ]
    assert agreement[5:7] == ["2026-01-01", "2026-03-31"]
    assert any(row[0] == "pct-requests-closed-on-time" for row in rows)
    assert "Awaiting approval" in page.text
    assert '<a href="/admin" aria-current="page">Admin</a>' in page.text


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST, Role.STEWARD])
def test_anyone_but_an_admin_is_told_the_page_does_not_exist(
    client: TestClient, make_user: MakeUser, example_ctx: Context, admin: Actor, role: Role
) -> None:
    me = make_user(role)
    sign_in(client, me)

    page = client.get("/admin")
    assert page.status_code == 404
    assert "Admin</a>" not in client.get("/plan").text
    token = hidden_field(client.get("/plan").text, "csrf_token")
    forged = client.post(f"/admin/users/{me}/role", data={"role": "admin", "csrf_token": token})
    assert forged.status_code == 404
    [account] = [u for u in users.list_users(example_ctx, admin) if u.username == me]
    assert account.role is role


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/admin")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin"


def test_a_role_changed_through_the_form_holds_on_the_users_next_request(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    viewer = make_user(Role.VIEWER, username="vic")
    other = TestClient(client.app, follow_redirects=False)
    sign_in(other, viewer)
    assert other.get("/runs").status_code == 404
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    changed = _post(client, "/admin/users/vic/role", {"role": "analyst"})

    assert changed.status_code == 303
    assert changed.headers["location"] == "/admin#users"
    assert other.get("/runs").status_code == 200
    refused = _post(client, "/admin/users/vic/role", {"role": "overlord"})
    assert refused.status_code == 400
    assert "a role is one of" in refused.text


def test_a_user_disabled_through_the_form_is_signed_out_and_enabled_again(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    viewer = make_user(Role.VIEWER, username="vic")
    other = TestClient(client.app, follow_redirects=False)
    sign_in(other, viewer)
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    assert _post(client, "/admin/users/vic/disable", {}).status_code == 303

    assert other.get("/plan").status_code == 303  # back to the sign-in page
    assert any(r[0] == "vic" and "Disabled" in r for r in table_rows(client.get("/admin").text))
    assert _post(client, "/admin/users/vic/enable", {}).status_code == 303
    sign_in(other, viewer)
    assert other.get("/plan").status_code == 200


def test_the_last_admin_cannot_demote_or_disable_themselves_through_the_form(
    client: TestClient, make_user: MakeUser, example_ctx: Context
) -> None:
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    demoted = _post(client, "/admin/users/cdo/role", {"role": "analyst"})
    disabled = _post(client, "/admin/users/cdo/disable", {})

    for refused in (demoted, disabled):
        assert refused.status_code == 400
        assert "the only active administrator" in refused.text
    assert any(r[:3] == ["cdo", "cdo", "admin"] for r in table_rows(client.get("/admin").text))


def test_approving_a_request_through_the_form_lets_the_user_read_the_dataset(
    client: TestClient, make_user: MakeUser, governed_ctx: Context, admin: Actor
) -> None:
    analyst = make_user(Role.ANALYST, username="ana")
    asked = access.request(governed_ctx, admin, DATASET, reason="Backlog study", for_user=analyst)
    reader = TestClient(client.app, follow_redirects=False)
    sign_in(reader, analyst)
    assert reader.get(f"/api/v1/datasets/{DATASET}").status_code == 404
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    approved = _post(client, f"/admin/access/{asked.id}/approve", {"days": "7", "note": "ok"})

    assert approved.status_code == 303
    assert reader.get(f"/api/v1/datasets/{DATASET}").status_code == 200
    decided = next(r for r in table_rows(client.get("/admin").text) if r[0] == str(asked.id))
    assert decided[3] == "Approved"
    again = _post(client, f"/admin/access/{asked.id}/deny", {})
    assert again.status_code == 400
    assert "already approved" in again.text


def test_denying_a_request_through_the_form_gives_nothing(
    client: TestClient, make_user: MakeUser, governed_ctx: Context, admin: Actor
) -> None:
    analyst = make_user(Role.ANALYST, username="ana")
    asked = access.request(governed_ctx, admin, DATASET, reason="Curious", for_user=analyst)
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    assert _post(client, f"/admin/access/{asked.id}/deny", {"note": "no"}).status_code == 303

    [found] = access.list_requests(governed_ctx, admin)
    assert found.status == access.DENIED
    assert _post(client, "/admin/access/999/approve", {}).status_code == 404


def test_a_measure_is_approved_for_publication_through_the_form(
    client: TestClient, make_user: MakeUser, governed_ctx: Context, admin: Actor
) -> None:
    sign_in(client, make_user(Role.ADMIN, username="cdo"))
    measure = "pct-requests-closed-on-time"

    done = _post(client, f"/admin/measures/{measure}/approve", {"note": "reviewed"})

    assert done.status_code == 303
    assert publication.get(governed_ctx, admin, measure).publishable
    row = next(r for r in table_rows(client.get("/admin").text) if r[0] == measure)
    assert row[2].startswith("Approved by user:cdo")


def test_what_people_typed_is_escaped(
    client: TestClient, make_user: MakeUser, governed_ctx: Context, admin: Actor
) -> None:
    payload = '<script>alert(1)</script> "onmouseover=alert(2) x="'
    users.add_user(
        governed_ctx, admin, username="mallory", password=PASSWORD, role=Role.ANALYST,
        department="customer-service", display_name=payload,
    )  # fmt: skip
    access.request(governed_ctx, admin, DATASET, reason=payload, for_user="mallory")
    sign_in(client, make_user(Role.ADMIN, username="cdo"))

    html = client.get("/admin").text

    assert "<script>alert" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
