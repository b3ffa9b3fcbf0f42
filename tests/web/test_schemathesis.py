"""The JSON API holds to its OpenAPI document, whoever calls it and whatever they send.

schemathesis reads the app's own document (``/api/openapi.json``) and generates requests
from it, valid and invalid, sent to the app in process as an administrator (a session
cookie), as a machine with a push token, and anonymously; ids are either generated or
ones that exist, so requests reach past "not found". Every answer must be no 500 and
match the status, content type and schema the document declares for it.

The number of generated requests per operation and caller is bounded
(``CIVICSTAT_SCHEMATHESIS_EXAMPLES``, default 8: about half a minute); the long campaign
runs the same test with many more (``python -m bench.schemathesis``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from web_helpers import PASSWORD, SESSION_COOKIE, sign_in

from civicstat.governance.actors import Role, operator
from civicstat.services import ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import tokens, users
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.example import write_example
from civicstat.web.app import create_app

EXAMPLES = int(os.environ.get("CIVICSTAT_SCHEMATHESIS_EXAMPLES", "8"))

# A push source with an integer column, so that rows, filters and pushes meet numbers.
CAD_CALLS = """\
id: cad_calls
title: Calls sent by the CAD system
owner: customer-service
connector: push
load: append
columns:
  - {name: call_id, type: string}
  - {name: district, type: string}
  - {name: received_at, type: timestamp}
  - {name: priority, type: integer}
"""
CALLS = [
    {"call_id": f"C{i}", "district": "D1", "received_at": "2026-02-01 08:00:00", "priority": i}
    for i in range(5)
]
# Ids that exist in the workspace below, for the "existing ids" half of the run.
EXISTING = {
    "dataset_id": "cad_calls",
    "source_id": "cad_calls",
    "measure_id": "pct-requests-closed-on-time",
}


def _document() -> dict[str, Any]:
    """The OpenAPI document as the app serves it; building it opens nothing."""
    return create_app(Settings(workspace=Path("."))).openapi()


# A request the document allows may still name something the data lacks (a column to
# sort by, a key already used): 400 says which, and is a proper answer to it. A pushed
# batch may also be too large for its source (413) or load as a failed run (422: its rows
# do not fit the source's columns), both declared.
ANSWERS_TO_VALID = ["2xx", "3xx", 400, 401, 403, 404, 409, 429]
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {"positive_data_acceptance": {"expected-statuses": ANSWERS_TO_VALID}},
        "operations": [
            {
                "include-path": "/api/v1/sources/{source_id}/records",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [*ANSWERS_TO_VALID, 413, 422, 503]
                    }
                },
            }
        ],
    }
)
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


@dataclass
class Api:
    app: FastAPI
    session: str  # an administrator's session cookie
    token: str  # a token that may push to cad_calls


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One workspace for the module (SQLite): the example, applied and ingested, with a push
    source that has received a batch, an administrator and a push token."""
    root = tmp_path_factory.mktemp("schemathesis") / "ws"
    write_example(root)
    (root / "sources" / "cad_calls.yaml").write_text(CAD_CALLS, encoding="utf-8")
    settings_ = Settings(workspace=root, database_url=f"sqlite:///{root.parent / 'meta.db'}")
    ctx = Context(settings_)
    ctx.migrate()
    admin = operator("pytest")
    workspace_service.apply(ctx, admin)
    ingest.ingest(ctx, admin, "service_requests")
    users.add_user(ctx, admin, username="boss", password=PASSWORD, role=Role.ADMIN)
    token = tokens.create(ctx, admin, name="cad", scopes=["source:push:cad_calls"]).text
    with TestClient(create_app(settings_, ctx), follow_redirects=False) as client:
        pushed = client.post(
            "/api/v1/sources/cad_calls/records",
            json=CALLS,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "first"},
        )
        assert pushed.status_code == 201, pushed.text
        assert isinstance(client.app, FastAPI)
        yield Api(client.app, sign_in(client, "boss"), token)
    ctx.close()
    shutil.rmtree(root.parent, ignore_errors=True)


@pytest.fixture(params=["anonymous", "admin", "push-token"])
def caller(request: pytest.FixtureRequest, api: Api) -> dict[str, Any]:
    """How each request is sent: headers and cookies for schemathesis's ``call``."""
    if request.param == "admin":
        return {"cookies": {SESSION_COOKIE: api.session}}
    if request.param == "push-token":
        return {"headers": {"Authorization": f"Bearer {api.token}"}}
    return {}


@pytest.fixture(params=["generated-ids", "existing-ids"])
def existing_ids(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "existing-ids")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_never_fails_and_answers_as_its_document_says(
    case: schemathesis.Case, api: Api, caller: dict[str, Any], existing_ids: bool
) -> None:
    if existing_ids and case.path_parameters:
        for name in case.path_parameters.keys() & EXISTING.keys():
            case.path_parameters[name] = EXISTING[name]
    # The document is read at import, the app built once per module: schemathesis sends
    # this case, and the probes its checks derive from it, to that app in process.
    case.operation.schema.app = api.app
    case.call_and_validate(app=api.app, **caller)
