"""Canaries on the public side: personal data planted in a public dataset's PII columns, and
everything in a confidential dataset, must never reach anyone by any public route.

Lakeside publishes its service requests, whose callers' names, phones, free-text
descriptions, flat numbers and an undeclared (drifted) column hold canaries; its police
incidents are confidential, canaries throughout, with a measure sliced by a canary column
that nobody approved for publication. An anonymous client walks every GET route under a
public prefix (so the walk grows with the routes), with each dataset and measure, plus the
ways round: SoQL ``$select=*``, ``$where``/``$order``/``$group`` on hidden columns, full-text
``q``/``$q`` for a canary, downloads, feeds. No canary may appear in a body or a header;
and a search for a canary must answer exactly as a search for nothing (no row oracle).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from public_walk import public_get_routes

from civicstat.governance.actors import PUBLIC, Actor
from civicstat.services import datasets, ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context

MARK = "k9wv"  # not hex: no hash or ETag can contain it by chance
REQUESTS = 40
INCIDENTS = 30
PUBLIC_DATASET, SECRET_DATASET = "requests", "incidents"
PUBLIC_MEASURE, SECRET_MEASURE = "requests-received", "incidents-by-note"
SEARCHED = f"CANARY-NAME-{MARK}-1"  # a caller's name, looked for everywhere
NOTHING = "NOTHING-HERE-zzz-1"  # the same search for something no row holds

PLAUSIBLE = {
    "dataset_id": [PUBLIC_DATASET, SECRET_DATASET],
    "measure_id": [PUBLIC_MEASURE, SECRET_MEASURE],
    "goal_id": ["lake-services"],
    "objective_id": ["answer-requests", "watch-incidents"],
    "department_id": ["works", "police"],
    "story_id": ["lake-requests"],
    "extension": ["csv", "json", "parquet"],
    "view": [f"{d}.json" for d in (PUBLIC_DATASET, SECRET_DATASET)],
    "resource": [
        f"{d}.{kind}"
        for d in (PUBLIC_DATASET, SECRET_DATASET)
        for kind in ("json", "csv", "geojson")
    ],
}
# The ways round: on both datasets ({d}), with a canary ({c}) where it is looked for.
PROBES = [
    "/resource/{d}.json?$select=*",
    "/resource/{d}.json?$select=caller_name,caller_phone,description,address,ssn,note",
    "/resource/{d}.json?$where=caller_name='{c}'",
    "/resource/{d}.json?$where=starts_with(caller_name, 'CANARY')",
    "/resource/{d}.json?$order=caller_name",
    "/resource/{d}.json?$select=caller_name,count(*)&$group=caller_name",
    "/resource/{d}.json?$select=note,count(*)&$group=note",
    "/resource/{d}.json?caller_name={c}",
    "/resource/{d}.json?$q={c}",
    "/resource/{d}.csv?$select=*",
    "/resource/{d}.geojson",
    "/api/views/{d}.json",
    "/api/views/{d}/rows.csv",
    "/api/views/{d}/rows.json",
    "/api/catalog/v1?q={c}",
    "/api/3/action/package_show?id={d}",
    "/api/3/action/package_search?q={c}",
    "/portal/datasets?q={c}",
    "/portal/datasets/{d}/rows.csv",
    "/portal/datasets/{d}/rows.json",
    "/portal/datasets/{d}/rows.parquet",
    "/portal/datasets/{d}/datapackage.json",
    "/portal/measures/{m}/data.csv",
    "/portal/measures/{m}/data.json",
]


def request_rows() -> list[dict[str, str]]:
    return [
        {
            "request_id": f"REQ-{i:04d}",
            "opened_at": f"2025-{1 + i % 6:02d}-{10 + i % 10} {i % 10:02d}:{i:02d}:00",
            "district": ["north", "south", "east"][i % 3],
            "request_type": ["pothole", "graffiti"][i % 2],
            "caller_name": f"CANARY-NAME-{MARK}-{i}",
            "caller_phone": f"CANARY-PHONE-{MARK}-{i}",
            "description": f'=HYPERLINK("x") CANARY-TEXT-{MARK}-{i}',
            "address": f"{1200 + i} Main St, Apt CANARY-UNIT-{MARK}-{i}",
            "ssn": f"CANARY-SSN-{MARK}-{i}",  # not declared: drift
        }
        for i in range(REQUESTS)
    ]


def incident_rows() -> list[dict[str, str]]:
    return [
        {
            "incident_id": f"CANARY-INCIDENT-{MARK}-{i}",
            "reported_at": f"2025-{1 + i % 6:02d}-{10 + i % 10} 08:00:00",
            "district": f"CANARY-DISTRICT-{MARK}-{i % 3}",
            "note": f"CANARY-NOTE-{MARK}-{i % 2}",
        }
        for i in range(INCIDENTS)
    ]


FILES = {
    "civicstat.yaml": """
        name: lakeside
        title: City of Lakeside
        timezone: America/Chicago
        portal:
          title: Lakeside Open Data
          rate_limit: {per_minute: 1000000}
    """,
    "governance.yaml": """
        departments:
          - {id: city, title: City of Lakeside}
          - {id: works, title: Public Works, parent: city}
          - {id: police, title: Police, parent: city}
        suppression: {k: 3}
    """,
    "plan.yaml": """
        title: Lakeside plan 2025
        period: {start: 2025-01-01, end: 2025-12-31}
        goals:
          - id: lake-services
            title: Services that answer
            objectives:
              - id: answer-requests
                title: Take residents' requests
                department: works
                measure: requests-received
                target: {value: 10, direction: higher_is_better}
              - id: watch-incidents
                title: Keep incidents in check
                department: police
                measure: incidents-by-note
                target: {value: 10, direction: lower_is_better}
    """,
    "measures/requests-received.yaml": """
        id: requests-received
        title: Requests received
        dataset: requests
        kind: count
        time: opened_at
        breakdowns: [district]
    """,
    "measures/incidents-by-note.yaml": """
        id: incidents-by-note
        title: Incidents by note
        dataset: incidents
        kind: count
        time: reported_at
        breakdowns: [note, district]
    """,
    "stories/lake-requests.md": """
        ---
        title: Requests by district
        summary: What residents asked for this spring.
        published: 2025-06-01
        ---
        Requests last month: **{{ value:requests-received }}**.

        {{ measure:requests-received }}
    """,
    "sources/requests.yaml": """
        id: requests
        title: Service requests
        owner: works
        options: {path: data/requests.csv}
        classification: public
        columns:
          - {name: request_id, type: string}
          - {name: opened_at, type: timestamp}
          - {name: district, type: string}
          - {name: request_type, type: string}
          - {name: caller_name, type: string, pii: name}
          - {name: caller_phone, type: string, pii: phone}
          - {name: description, type: string, pii: free_text}
          - {name: address, type: string, pii: address, masking: generalise}
    """,
    "sources/incidents.yaml": """
        id: incidents
        title: Police incidents
        owner: police
        options: {path: data/incidents.csv}
        classification: confidential
        columns:
          - {name: incident_id, type: string}
          - {name: reported_at, type: timestamp}
          - {name: district, type: string}
          - {name: note, type: string}
    """,
}


def write_workspace(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    for name, rows in (("requests", request_rows()), ("incidents", incident_rows())):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / f"{name}.csv").write_text(out.getvalue(), encoding="utf-8")
    return root


def leaked(text: str) -> list[str]:
    """Every canary in ``text`` (any mention of the marker counts)."""
    return sorted(set(re.findall(rf"CANARY-[A-Z]+-{MARK}-\d+", text))) or (
        [f"...{MARK}..."] if MARK in text else []
    )


def readable(response: httpx.Response) -> str:
    """Body and headers as text; a Parquet body as its rows (compression hides strings)."""
    body = response.content
    if body.startswith(b"PAR1"):
        text = str(pq.read_table(io.BytesIO(body)).to_pylist())
    else:
        text = body.decode("utf-8", "replace")
    return text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())


def concrete_paths(app: FastAPI) -> list[str]:
    """Every public GET route with each plausible id, and every probe."""
    paths = []
    for route in public_get_routes(app):
        names = re.findall(r"{(\w+)(?::\w+)?}", route)
        missing = [n for n in names if n not in PLAUSIBLE]
        assert not missing, f"route {route}: add Lakeside values for {missing} to PLAUSIBLE"
        for values in itertools.product(*(PLAUSIBLE[n] for n in names)):
            path = route
            for name, value in zip(names, values, strict=True):
                path = re.sub(rf"{{{name}(?::\w+)?}}", value, path)
            paths += [path, f"{path}?q={{c}}", f"{path}?$q={{c}}"]
    for probe in PROBES:
        for d, m in ((PUBLIC_DATASET, PUBLIC_MEASURE), (SECRET_DATASET, SECRET_MEASURE)):
            paths.append(probe.replace("{d}", d).replace("{m}", m))
    return paths


@pytest.fixture
def lakeside(tmp_path: Path, make_context: Callable[[Path], Context], admin: Actor) -> Context:
    ctx = make_context(write_workspace(tmp_path / "lakeside"))
    workspace_service.apply(ctx, admin)
    for source in (PUBLIC_DATASET, SECRET_DATASET):
        ingest.ingest(ctx, admin, source)
    return ctx


def test_the_canaries_are_in_the_store_and_the_public_reads_the_rest(
    lakeside: Context, admin: Actor
) -> None:
    clear = datasets.rows(lakeside, admin, PUBLIC_DATASET, limit=1000, unmask=True)
    assert {f"CANARY-NAME-{MARK}-1", f"CANARY-PHONE-{MARK}-1"} <= set(leaked(str(clear.rows)))
    assert f"CANARY-UNIT-{MARK}-1" in str(clear.rows)
    public = datasets.rows(lakeside, PUBLIC, PUBLIC_DATASET, limit=1000)
    assert len(public.rows) == REQUESTS
    assert "REQ-0001" in str(public.rows)
    assert leaked(str(public.rows)) == []


Walk = tuple[dict[str, list[str]], list[str], dict[str, httpx.Response]]


def walk(client: TestClient) -> Walk:
    """(canaries found by answer, searches answered unlike a search for nothing, answers)."""
    assert isinstance(client.app, FastAPI)
    leaks, oracles, seen = {}, [], {}
    for template in concrete_paths(client.app):
        path = template.replace("{c}", SEARCHED)
        response = client.get(path)
        seen[path] = response
        text = readable(response).replace(SEARCHED, NOTHING)  # the caller's own words
        if found := leaked(text):
            leaks[f"GET {path} -> {response.status_code}"] = found
        if "{c}" in template:
            # A canary searched for must find what nothing finds: no count, no row, no page.
            twice = [client.get(template.replace("{c}", NOTHING)) for _ in range(2)]
            steady = twice[0].content == twice[1].content
            echoed = response.content.replace(SEARCHED.encode(), NOTHING.encode())
            if steady and echoed != twice[0].content:
                oracles.append(f"GET {path} -> {response.status_code}")
    return leaks, oracles, seen


def test_no_canary_reaches_the_public_by_any_route(
    lakeside: Context, make_client: Callable[..., TestClient]
) -> None:
    leaks, oracles, seen = walk(make_client(lakeside, "198.51.100.20"))

    assert leaks == {}
    assert oracles == []
    # The walk read public data wherever the route to it exists.
    soda = seen.get(f"/resource/{PUBLIC_DATASET}.json?$select=*")
    if soda is not None and soda.status_code == 200:
        assert "REQ-0001" in soda.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_walk_finds_a_route_that_leaks_or_answers_a_search_for_a_canary(
    lakeside: Context, make_client: Callable[..., TestClient], admin: Actor
) -> None:
    client = make_client(lakeside, "198.51.100.21")
    app = client.app
    assert isinstance(app, FastAPI)

    @app.get("/portal/leaky/{dataset_id}/rows.json")
    def leaky(dataset_id: str, q: str = "") -> list[str]:
        rows = datasets.rows(lakeside, admin, dataset_id, limit=1000, unmask=True).rows
        if not q:  # the first row as it is stored
            return [str(value) for value in rows[0].values()]
        return [str(row[next(iter(row))]) for row in rows if q in str(row)]  # ids only

    leaks, oracles, _ = walk(client)

    assert leaks[f"GET /portal/leaky/{PUBLIC_DATASET}/rows.json -> 200"] == [
        f"CANARY-{kind}-{MARK}-0" for kind in ("NAME", "PHONE", "SSN", "TEXT", "UNIT")
    ]
    assert f"GET /portal/leaky/{SECRET_DATASET}/rows.json -> 200" in leaks
    assert oracles == [f"GET /portal/leaky/{PUBLIC_DATASET}/rows.json?q={SEARCHED} -> 200"]
