"""Reading a dataset's rows through the one governed door (``datasets.rows``), as a service
and over the API: columns by clearance, PII masked in the query, rows by department,
filters and sorting only on what the reader sees in clear, limits, audit, CSV export."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reads_helpers import INCIDENTS, PERMITS, incident_rows, leaked, permit_rows, sign_in
from sqlalchemy import select

from civicstat.governance import audit, masking
from civicstat.governance.actors import Actor, Role
from civicstat.governance.audit import AuditUnavailable
from civicstat.governance.secrets import secret_key
from civicstat.metadata.models import AuditEvent
from civicstat.services import datasets, workspace
from civicstat.services.context import Context
from civicstat.services.errors import Forbidden, InvalidInput

MakeActor = Callable[..., Actor]
Browser = Callable[[], TestClient]


def events(ctx: Context, action: str) -> list[AuditEvent]:
    with ctx.db.session() as session:
        found = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        session.expunge_all()
        return list(found)


def signed_in(browser: Browser, user: Actor) -> TestClient:
    client = browser()
    sign_in(client, user.name)
    return client


def test_a_department_head_reads_their_departments_rows_with_pii_masked(
    riverside: Context, riverside_user: MakeActor
) -> None:
    head = riverside_user(Role.DEPARTMENT_HEAD, "police")

    page = datasets.rows(riverside, head, "incidents", limit=100)

    planted = {
        r["reported_at"]: r for r in incident_rows() if r["department"] in ("police", "patrol")
    }
    assert page.total == len(page.rows) == len(planted) == 30
    assert {row["department"] for row in page.rows} == {"police", "patrol"}
    assert [c.name for c in page.columns] == [
        "incident_id",
        "reported_at",
        "district",
        "department",
        "caller_name",
        "caller_phone",
        "caller_email",
        "address",
        "date_of_birth",
    ]  # fmt: skip  (no narrative: dropped; no officer notes: restricted; no ssn: undeclared)
    key = masking.hash_key(secret_key(riverside.settings))
    for row in page.rows:
        clear = planted[row["reported_at"].strftime("%Y-%m-%d %H:%M:%S")]
        assert row["caller_name"] == row["caller_phone"] == masking.REDACTED
        assert row["caller_email"] == masking.keyed_hash(key, clear["caller_email"])
        assert row["incident_id"] == masking.keyed_hash(key, clear["incident_id"])
        assert row["date_of_birth"].day == 1
        assert row["address"] in (None, "1200 block of Main St")
    assert leaked(page.model_dump_json()) == []


def test_describe_counts_only_the_rows_and_columns_the_reader_sees(
    riverside: Context, riverside_user: MakeActor, admin: Actor
) -> None:
    head = riverside_user(Role.DEPARTMENT_HEAD, "public-works")

    mine = datasets.describe(riverside, head, "incidents")
    everything = datasets.describe(riverside, admin, "incidents")

    assert mine.row_count == sum(r["department"] == "public-works" for r in incident_rows())
    assert everything.row_count == INCIDENTS
    assert "officer_notes" not in [c["name"] for c in mine.columns]
    assert {"officer_notes", "ssn"} <= {c["name"] for c in everything.columns}
    assert "narrative" not in {c["name"] for c in everything.columns}  # dropped unless unmasked
    masked = {c["name"]: c.get("masking") for c in mine.columns}
    assert masked["caller_name"] == "redact"
    assert masked["district"] is None


def test_a_column_the_spec_does_not_declare_is_restricted_until_a_steward_classifies_it(
    riverside: Context, riverside_user: MakeActor, admin: Actor
) -> None:
    steward = riverside_user(Role.STEWARD, "police")
    assert "ssn" not in [c.name for c in datasets.rows(riverside, steward, "incidents").columns]

    source = riverside.root / "sources" / "incidents.yaml"
    source.write_text(
        source.read_text(encoding="utf-8")
        + "  - {name: ssn, type: string, pii: identifier, masking: redact}\n",
        encoding="utf-8",
    )
    assert workspace.apply(riverside, admin).revision is not None

    page = datasets.rows(riverside, steward, "incidents")
    assert {row["ssn"] for row in page.rows} == {masking.REDACTED}


@pytest.mark.parametrize(
    ("query", "column"),
    [
        ({"caller_name": "CANARY-NAME-q7zx-1"}, "caller_name"),
        ({"order": "caller_name"}, "caller_name"),
        ({"order": "district,-caller_email"}, "caller_email"),
        ({"group_by": "address"}, "address"),
        ({"date_of_birth": "1941-02-15"}, "date_of_birth"),
    ],
)
def test_filtering_sorting_or_grouping_by_a_masked_column_is_refused(
    riverside_browser: Browser,
    riverside_user: MakeActor,
    query: dict[str, str],
    column: str,
) -> None:
    client = signed_in(riverside_browser, riverside_user(Role.STEWARD, "police"))

    response = client.get("/api/v1/datasets/incidents/rows", params=query)

    assert response.status_code == 400
    assert f"by {column!r}:" in response.json()["detail"]
    assert "masked" in response.json()["detail"]
    assert leaked(response.text) == []
    assert "1941-02-15" not in response.text


def test_a_column_the_reader_cannot_see_is_answered_like_one_that_does_not_exist(
    riverside_browser: Browser, riverside_user: MakeActor
) -> None:
    client = signed_in(riverside_browser, riverside_user(Role.STEWARD, "police"))

    hidden = client.get("/api/v1/datasets/incidents/rows", params={"officer_notes": "x"})
    missing = client.get("/api/v1/datasets/incidents/rows", params={"no_such_col": "x"})

    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["detail"].replace("officer_notes", "<c>") == missing.json()[
        "detail"
    ].replace("no_such_col", "<c>")


def test_a_bad_filter_value_is_refused_without_being_repeated(
    riverside_browser: Browser, riverside_user: MakeActor
) -> None:
    client = signed_in(riverside_browser, riverside_user(Role.STEWARD, "police"))

    response = client.get(
        "/api/v1/datasets/incidents/rows", params={"reported_at": "CANARY-NAME-q7zx-3"}
    )

    assert response.status_code == 400
    assert "reported_at" in response.json()["detail"]
    assert leaked(response.text) == []


def test_filters_and_order_use_columns_read_in_clear(
    riverside_browser: Browser, riverside_user: MakeActor
) -> None:
    client = signed_in(riverside_browser, riverside_user(Role.ANALYST, "public-works"))

    response = client.get(
        "/api/v1/datasets/permits/rows?department=public-works&kind=roof&kind=-fence&order=-fee"
    )

    assert response.status_code == 200, response.text
    body = response.json()
    expected = sorted(
        (
            r
            for r in permit_rows()
            if r["department"] == "public-works" and r["kind"] in ("roof", "-fence")
        ),
        key=lambda r: -float(r["fee"]),
    )
    assert [r["fee"] for r in body["rows"]] == [float(r["fee"]) for r in expected]
    assert body["total"] == len(expected)


def test_group_by_counts_the_readers_rows_per_group(
    riverside: Context, riverside_user: MakeActor
) -> None:
    head = riverside_user(Role.DEPARTMENT_HEAD, "patrol")

    page = datasets.rows(riverside, head, "incidents", group_by=["district"], order=["-count"])

    counts: dict[str, int] = {}
    for row in incident_rows():
        if row["department"] == "patrol":
            counts[row["district"]] = counts.get(row["district"], 0) + 1
    assert {r["district"]: r["count"] for r in page.rows} == counts
    assert [c.name for c in page.columns] == ["district", "count"]
    assert [r["count"] for r in page.rows] == sorted(counts.values(), reverse=True)


def test_pages_follow_on_and_the_limit_is_at_most_ten_thousand(
    riverside: Context, riverside_user: MakeActor, riverside_browser: Browser
) -> None:
    steward = riverside_user(Role.STEWARD, "public-works")
    first = datasets.rows(riverside, steward, "permits", limit=7, order=["permit_id"])
    second = datasets.rows(riverside, steward, "permits", limit=7, offset=7, order=["permit_id"])

    ids = [r["permit_id"] for r in first.rows + second.rows]
    assert ids == sorted(r["permit_id"] for r in permit_rows())[:14]
    assert first.total == PERMITS
    with pytest.raises(InvalidInput, match="10,000"):
        datasets.rows(riverside, steward, "permits", limit=10_001)

    client = signed_in(riverside_browser, steward)
    refused = client.get("/api/v1/datasets/permits/rows?limit=10001")
    assert refused.status_code == 422  # out of the range the API declares for it
    assert [e["loc"] for e in refused.json()["detail"]] == [["query", "limit"]]
    assert client.get("/api/v1/datasets/permits/rows?limit=10000").status_code == 200


def test_unmasking_without_a_second_factor_is_refused_with_403_and_audited(
    riverside: Context, riverside_browser: Browser, riverside_user: MakeActor
) -> None:
    steward = riverside_user(Role.STEWARD, "police")
    client = signed_in(riverside_browser, steward)

    response = client.get("/api/v1/datasets/incidents/rows?unmask=true")

    assert response.status_code == 403
    assert "second factor" in response.json()["detail"]
    assert leaked(response.text) == []
    assert [(e.actor, e.outcome) for e in events(riverside, "dataset:unmask")] == [
        (f"user:{steward.name}", "denied")
    ]


@pytest.mark.parametrize("role", [Role.ANALYST, Role.DEPARTMENT_HEAD])
def test_roles_without_unmask_rights_cannot_unmask_even_with_a_second_factor(
    riverside: Context, riverside_user: MakeActor, role: Role
) -> None:
    actor = dataclasses.replace(riverside_user(role, "public-works"), mfa=True)

    with pytest.raises(Forbidden):
        datasets.rows(riverside, actor, "permits", unmask=True)


def test_a_steward_with_a_second_factor_unmasks_and_the_unmask_is_audited(
    riverside: Context, riverside_user: MakeActor
) -> None:
    steward = dataclasses.replace(riverside_user(Role.STEWARD, "police"), mfa=True)

    page = datasets.rows(riverside, steward, "incidents", unmask=True, limit=100)

    names = {row["caller_name"] for row in page.rows}
    assert names == {r["caller_name"] for r in incident_rows()}
    assert "officer_notes" not in page.rows[0]  # restricted stays above a steward's clearance
    (unmask,) = events(riverside, "dataset:unmask")
    assert unmask.outcome == "ok"
    assert "caller_name" in unmask.detail["columns"]
    assert leaked(str(unmask.detail)) == []


def test_a_confidential_read_is_audited_by_column_names_never_values(
    riverside: Context, riverside_user: MakeActor
) -> None:
    head = riverside_user(Role.DEPARTMENT_HEAD, "police")

    datasets.rows(riverside, head, "incidents", filters={"district": ["north"]})

    (read,) = events(riverside, "dataset:read")
    assert read.actor == f"user:{head.name}"
    assert read.detail["filters"] == ["district"]
    assert read.detail["rows"] == "by department"
    assert "caller_name" in read.detail["masked"]
    assert "north" not in str(read.detail)


def test_an_internal_read_is_not_audited_but_its_export_is(
    riverside: Context, riverside_user: MakeActor
) -> None:
    analyst = riverside_user(Role.ANALYST, "police")

    datasets.rows(riverside, analyst, "permits")
    assert events(riverside, "dataset:read") == []

    datasets.export_csv(riverside, analyst, "permits")
    (export,) = events(riverside, "dataset:export")
    assert export.actor == f"user:{analyst.name}"
    with riverside.db.session() as session:
        assert audit.verify(session) is None


def test_the_csv_export_cannot_smuggle_a_formula_into_a_spreadsheet(
    riverside_browser: Browser, riverside_user: MakeActor
) -> None:
    client = signed_in(riverside_browser, riverside_user(Role.STEWARD, "public-works"))

    response = client.get("/api/v1/datasets/permits/rows.csv?order=permit_id")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="permits.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == PERMITS
    assert {r["kind"] for r in rows} == {"'-fence", "'@deck", "'+shed", "roof"}
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    assert leaked(response.text) == []


def test_an_unmasked_export_quotes_formulas_in_free_text_too(
    riverside: Context, admin: Actor
) -> None:
    text = datasets.export_csv(riverside, admin, "incidents", unmask=True)

    narratives = [r["narrative"] for r in csv.DictReader(io.StringIO(text))]
    assert narratives
    assert all(n.startswith("'=HYPERLINK") for n in narratives)


def test_if_the_audit_cannot_be_written_no_row_is_read(
    riverside: Context, riverside_user: MakeActor, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = riverside_user(Role.DEPARTMENT_HEAD, "police")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise AuditUnavailable("the audit log could not be written")

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("rows were read before the read was recorded")

    monkeypatch.setattr(audit, "record", broken)
    monkeypatch.setattr(riverside.warehouse, "execute", never)

    with pytest.raises(AuditUnavailable):
        datasets.rows(riverside, head, "incidents")
