"""POST /api/v1/sources/{id}/records: a source's system pushes batches with a scoped token,
and a retried batch is never loaded twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_helpers import ON_SQLITE_ONLY, MakeClient, MakeUser, sign_in

from civicstat.governance import audit
from civicstat.governance.actors import Actor, Role
from civicstat.metadata import data_versions, observations
from civicstat.metadata.models import (
    AuditEvent,
    DataVersion,
    IngestRun,
    PushBatch,
    RawFile,
)
from civicstat.pipeline import batches
from civicstat.services import push as push_service
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import tokens
from civicstat.services.context import Context

URL = "/api/v1/sources/cad_calls/records"
MAX_BYTES = 4000
CAD_CALLS = f"""\
id: cad_calls
title: Calls sent by the CAD system
owner: customer-service
connector: push
options:
  max_bytes: {MAX_BYTES}
load: append
columns:
  - {{name: call_id, type: string}}
  - {{name: district, type: string}}
  - {{name: received_at, type: timestamp}}
  - {{name: priority, type: integer}}
"""
PERMITS_FEED = CAD_CALLS.replace("id: cad_calls", "id: permits_feed")
URGENT_SHARE = """\
id: pct-calls-priority-1
title: Share of calls that are priority 1
dataset: cad_calls
kind: share
condition: priority = 1
time: received_at
grain: month
"""


def calls(n: int, start: int = 0, priority: Any = 2) -> list[dict[str, Any]]:
    return [
        {
            "call_id": f"C{i:05d}",
            "district": f"D{i % 3 + 1}",
            "received_at": f"2026-02-{i % 28 + 1:02d} 08:{i % 60:02d}:00",
            "priority": priority,
        }
        for i in range(start, start + n)
    ]


def as_json(records: list[dict[str, Any]]) -> bytes:
    return json.dumps(records).encode()


def as_ndjson(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.fixture
def ctx(example_root: Path, make_context: Callable[[Path], Context], admin: Actor) -> Context:
    """The example workspace with two push sources, applied, on each metadata store."""
    (example_root / "sources" / "cad_calls.yaml").write_text(CAD_CALLS, encoding="utf-8")
    (example_root / "sources" / "permits_feed.yaml").write_text(PERMITS_FEED, encoding="utf-8")
    (example_root / "measures" / "urgent.yaml").write_text(URGENT_SHARE, encoding="utf-8")
    context = make_context(example_root)
    workspace_service.apply(context, admin)
    return context


@pytest.fixture
def token(ctx: Context, admin: Actor) -> str:
    return tokens.create(ctx, admin, name="cad", scopes=["source:push:cad_calls"]).text


@pytest.fixture
def client(ctx: Context, make_client: MakeClient) -> TestClient:
    return make_client(ctx)


class Pusher:
    """A machine pushing batches: its token, and a fresh Idempotency-Key unless told."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token
        self.sent = 0

    def __call__(
        self,
        body: bytes | Iterator[bytes],
        *,
        key: str | None = "auto",
        content_type: str = "application/json",
        url: str = URL,
        token: str | None = None,
    ) -> httpx.Response:
        self.sent += 1
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {token or self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = f"batch-{self.sent}" if key == "auto" else key
        response: httpx.Response = self.client.post(url, content=body, headers=headers)
        return response


@pytest.fixture
def send(client: TestClient, token: str) -> Pusher:
    return Pusher(client, token)


def versions(ctx: Context) -> list[tuple[int, int]]:
    with ctx.db.session() as session:
        rows = session.scalars(
            select(DataVersion)
            .where(DataVersion.dataset_id == "cad_calls")
            .order_by(DataVersion.id)
        )
        return [(v.version, v.row_count) for v in rows]


def count(ctx: Context, model: Any) -> int:
    with ctx.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def push_events(ctx: Context) -> list[tuple[str, str, dict[str, Any]]]:
    with ctx.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "source:push").order_by(AuditEvent.id)
        )
        return [(e.actor, e.outcome, e.detail) for e in events]


# --- loading -----------------------------------------------------------------------------


def test_a_pushed_json_array_becomes_a_new_data_version_with_its_rows(
    ctx: Context, send: Pusher
) -> None:
    body = as_json(calls(25))

    response = send(body, key="2026-02-28-a")

    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer | {"run_id": 0} == {
        "source": "cad_calls", "dataset": "cad_calls", "idempotency_key": "2026-02-28-a",
        "status": "succeeded", "run_id": 0, "records": 25, "rows_loaded": 25,
        "rows_quarantined": 0, "version": 1, "error": None, "warnings": [],
    }  # fmt: skip
    assert "Idempotent-Replay" not in response.headers
    assert versions(ctx) == [(1, 25)]
    with ctx.db.session() as session:
        run = session.get_one(IngestRun, answer["run_id"])
        assert (run.trigger, run.status, run.rows_loaded) == ("push", "succeeded", 25)
        raw = session.scalars(select(RawFile).where(RawFile.run_id == run.id)).one()
        batch = session.scalars(select(PushBatch)).one()
    # The batch is kept byte for byte, and its answer is on record for a retry.
    assert raw.sha256 == hashlib.sha256(body).hexdigest() == batch.body_sha256
    assert ctx.lake.path(raw.lake_path).read_bytes() == body
    assert (batch.run_id, batch.response) == (run.id, answer)


def test_an_ndjson_batch_is_appended_to_the_dataset(ctx: Context, send: Pusher) -> None:
    first = send(as_json(calls(10)))
    second = send(as_ndjson(calls(7, start=10)), content_type="application/x-ndjson")

    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.json()["records"] == 7
    assert versions(ctx) == [(1, 10), (2, 17)]
    with ctx.db.session() as session:
        assert data_versions.current(session, "cad_calls").row_count == 17  # type: ignore[union-attr]


def test_a_charset_other_than_utf8_or_another_media_type_is_refused_with_415(
    ctx: Context, send: Pusher
) -> None:
    for content_type in ("text/csv", "application/json; charset=latin-1", "text/plain"):
        response = send(as_json(calls(2)), content_type=content_type)
        assert response.status_code == 415, content_type
        assert "application/json or application/x-ndjson" in response.json()["detail"]
    assert (
        send(as_json(calls(2)), content_type="application/json; charset=UTF-8").status_code == 201
    )


def test_a_push_recomputes_the_measures_over_its_dataset(ctx: Context, send: Pusher) -> None:
    records = calls(8, priority=2) + calls(2, start=8, priority=1)
    for record in records:
        record["received_at"] = "2026-02-10 08:00:00"

    assert send(as_json(records)).status_code == 201

    with ctx.db.session() as session:
        series = observations.current_series(session, "pct-calls-priority-1")
        assert [(o.period_start, o.value, o.n) for o in series] == [(dt.date(2026, 2, 1), 20.0, 10)]


# --- idempotency -------------------------------------------------------------------------


def test_a_retried_batch_is_answered_again_and_never_loaded_twice(
    ctx: Context, send: Pusher
) -> None:
    body = as_json(calls(12))
    first = send(body, key="nightly-0001")
    runs = count(ctx, IngestRun)

    retries = [send(body, key="nightly-0001") for _ in range(2)]

    for retry in retries:
        assert retry.status_code == 200
        assert retry.headers["Idempotent-Replay"] == "true"
        assert retry.json() == first.json()
    assert versions(ctx) == [(1, 12)]
    assert count(ctx, IngestRun) == runs
    assert count(ctx, RawFile) == 1


def test_the_same_key_with_a_different_body_is_a_conflict(ctx: Context, send: Pusher) -> None:
    send(as_json(calls(3)), key="k-1")

    response = send(as_json(calls(4)), key="k-1")

    assert response.status_code == 409
    assert "different batch" in response.json()["detail"]
    assert versions(ctx) == [(1, 3)]


def test_two_tokens_using_the_same_key_get_independent_batches(
    ctx: Context, send: Pusher, token: str, admin: Actor
) -> None:
    other = tokens.create(ctx, admin, name="cad-backup", scopes=["source:push:cad_calls"]).text
    mine, theirs = as_json(calls(3)), as_json(calls(4, start=100))

    first = send(mine, key="shared-key")
    # The other token's batch under the same key is its own: no conflict, no replay of mine.
    their_first = send(theirs, key="shared-key", token=other)
    # Nor does it get my recorded answer by sending my body under my key.
    their_copy = send(mine, key="shared-key-2", token=other)
    send(mine, key="shared-key-2")  # ... and my later key is not taken by theirs
    my_retry = send(mine, key="shared-key")

    assert (first.status_code, their_first.status_code) == (201, 201)
    assert "Idempotent-Replay" not in their_first.headers
    assert their_first.json()["run_id"] != first.json()["run_id"]
    assert their_first.json()["records"] == 4
    assert "Idempotent-Replay" not in their_copy.headers
    assert my_retry.headers["Idempotent-Replay"] == "true"
    assert my_retry.json() == first.json()
    assert versions(ctx) == [(1, 3), (2, 7)]
    with ctx.db.session() as session:
        clients = session.execute(
            select(PushBatch.client, PushBatch.idempotency_key).order_by(PushBatch.id)
        ).all()
    assert len({c for c, _ in clients}) == 2
    assert sorted(k for _, k in clients) == sorted(["shared-key"] * 2 + ["shared-key-2"] * 2)


def test_a_batch_without_an_idempotency_key_is_refused(ctx: Context, send: Pusher) -> None:
    for key in (None, "", "   ", "tab\there", "x" * 201):
        response = send(as_json(calls(3)), key=key)
        assert response.status_code == 400, key
        assert "Idempotency-Key" in response.json()["detail"]
    assert count(ctx, IngestRun) == 0


def test_a_key_still_claimed_by_a_running_batch_is_a_conflict_until_its_claim_goes_stale(
    ctx: Context, send: Pusher, token: str
) -> None:
    body = as_json(calls(5))
    digest = hashlib.sha256(body).hexdigest()
    actor = tokens.authenticate_token(ctx, token, "source:push")
    assert actor is not None
    # As if another request had claimed the key and was still loading (or had died).
    claimed_at = dt.datetime.now(dt.UTC) - batches.STALE_CLAIM + dt.timedelta(minutes=1)
    key = batches.BatchKey(batches.client_of(actor), "cad_calls", "k-busy")
    assert batches.claim(ctx.db, key, actor.token_id, digest, claimed_at)

    busy = send(body, key="k-busy")
    assert busy.status_code == 409
    assert "still being loaded" in busy.json()["detail"]

    later = claimed_at + batches.STALE_CLAIM + dt.timedelta(seconds=1)
    taken_over = push_service.push(
        ctx, actor, "cad_calls", body, "application/json", "k-busy", now=later
    )
    assert (taken_over.answer.status, taken_over.replayed) == ("succeeded", False)
    assert versions(ctx) == [(1, 5)]


# --- what is refused before anything lands -----------------------------------------------


def test_malformed_json_at_record_3_is_refused_naming_it_and_nothing_lands(
    ctx: Context, send: Pusher
) -> None:
    good = calls(5)
    text = json.dumps(good)
    broken = text.replace('"C00002", ', '"C00002" ', 1).encode()  # record 3 lacks a comma

    response = send(broken, key="k-broken")

    assert response.status_code == 400
    assert response.json()["record"] == 3
    assert response.json()["detail"].startswith("record 3 is not valid JSON")
    assert (count(ctx, IngestRun), count(ctx, RawFile), count(ctx, PushBatch)) == (0, 0, 0)
    assert not (ctx.lake.root / "raw").exists() or not any((ctx.lake.root / "raw").rglob("*"))
    # Nothing was kept under the key, so the fixed batch may use it.
    assert send(as_json(good), key="k-broken").status_code == 201


def test_an_ndjson_line_that_is_not_an_object_is_named(ctx: Context, send: Pusher) -> None:
    body = as_ndjson(calls(2)) + b"\n[1, 2]\n" + as_ndjson(calls(1))

    response = send(body, content_type="application/x-ndjson")

    assert response.status_code == 400
    assert (response.json()["line"], response.json()["record"]) == (4, 3)
    assert "line 4 (record 3) is a JSON array" in response.json()["detail"]


def test_an_empty_batch_is_refused_rather_than_loaded(ctx: Context, send: Pusher) -> None:
    assert send(b"[]").status_code == 400
    assert send(b"\n\n", content_type="application/x-ndjson").status_code == 400
    assert count(ctx, IngestRun) == 0


def test_an_oversized_batch_is_refused_with_413(ctx: Context, send: Pusher) -> None:
    body = as_json(calls(60))
    assert len(body) > MAX_BYTES

    declared = send(body)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is cut off while read
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    streamed = send(chunks())
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert f"{MAX_BYTES:,} bytes" in declared.json()["detail"]
    assert count(ctx, IngestRun) == 0


# --- who may push ------------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_refused_with_401(
    ctx: Context, client: TestClient, send: Pusher, admin: Actor, token: str
) -> None:
    body = as_json(calls(2))
    revoked = tokens.create(ctx, admin, name="old", scopes=["source:push:cad_calls"])
    tokens.revoke(ctx, admin, revoked.info.id)
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    answers = [
        client.post(URL, content=body, headers={"Idempotency-Key": "k"}),
        client.post(URL, content=body, headers={"Authorization": f"Basic {token}"}),
        send(body, token=wrong),
        send(body, token=revoked.text),
    ]

    for response in answers:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert token not in response.text
        assert revoked.text not in response.text
    assert count(ctx, IngestRun) == 0


def test_a_token_scoped_to_another_source_gets_404_like_an_unknown_source(
    ctx: Context, send: Pusher, admin: Actor
) -> None:
    other = tokens.create(ctx, admin, name="permits", scopes=["source:push:permits_feed"]).text

    forbidden = send(as_json(calls(2)), token=other)
    unknown = send(as_json(calls(2)), url="/api/v1/sources/no_such_source/records")

    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.json() == {"detail": "no source 'cad_calls'"}
    assert unknown.json() == {"detail": "no source 'no_such_source'"}
    assert count(ctx, IngestRun) == 0


def test_a_source_that_is_pulled_does_not_accept_pushes(
    ctx: Context, send: Pusher, admin: Actor
) -> None:
    everywhere = tokens.create(ctx, admin, name="hub", scopes=["source:push:*"]).text

    response = send(
        as_json(calls(2)), token=everywhere, url="/api/v1/sources/service_requests/records"
    )

    assert response.status_code == 400
    assert "does not accept pushes" in response.json()["detail"]


@ON_SQLITE_ONLY
def test_a_signed_in_browser_cannot_push_with_its_session(
    client: TestClient, make_user: MakeUser
) -> None:
    sign_in(client, make_user(Role.ADMIN))

    response = client.post(
        URL,
        content=as_json(calls(2)),
        headers={"Content-Type": "application/json", "Idempotency-Key": "k"},
    )

    assert response.status_code == 401


# --- a batch the pipeline refuses, and the record of every push ---------------------------


def test_a_batch_whose_rows_do_not_fit_fails_publishes_nothing_and_is_replayed_as_failed(
    ctx: Context, send: Pusher
) -> None:
    body = as_json(calls(10, priority="urgent"))  # priority is declared an integer

    failed = send(body, key="k-bad-rows")
    again = send(body, key="k-bad-rows")

    assert failed.status_code == 422, failed.text
    assert failed.json()["status"] == "failed"
    assert failed.json()["error"]
    assert (again.status_code, again.headers["Idempotent-Replay"]) == (422, "true")
    assert again.json() == failed.json()
    assert versions(ctx) == []


def test_every_push_is_audited_and_the_chain_verifies(
    ctx: Context, send: Pusher, token: str, admin: Actor
) -> None:
    body = as_json(calls(4))
    send(body, key="k-1")  # loaded
    send(body, key="k-1")  # replayed
    send(as_json(calls(5)), key="k-1")  # conflict
    send(b"[{]", key="k-2")  # malformed
    send(as_json(calls(4, priority="urgent")), key="k-3")  # read, but failed to load

    events = push_events(ctx)

    actor = f"token:{tokens.list_tokens(ctx, admin)[0].id}:cad"
    assert [(who, outcome) for who, outcome, _ in events] == [(actor, "ok")] * 2 + [
        (actor, "failed")
    ] * 3
    loaded, replayed, conflict, malformed, not_loaded = (d for _, _, d in events)
    assert (loaded["records"], loaded["version"], loaded["idempotency_key"]) == (4, 1, "k-1")
    assert (replayed["replay"], replayed["run_id"]) == (True, loaded["run_id"])
    assert "different batch" in conflict["reason"]
    assert "record 1" in malformed["reason"]
    assert not_loaded["status"] == "failed"
    with ctx.db.session() as session:
        assert audit.verify(session) is None
        details = [e.detail for e in session.scalars(select(AuditEvent))]
    assert token not in json.dumps(details)
