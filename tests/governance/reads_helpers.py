"""A workspace for governed reads: personal data planted as canaries in every PII column,
rows of several departments, and a browser that signs in as a given user.

Riverside has a police department (with a patrol division under it) and public works.
``incidents`` (owned by police, confidential) holds callers' names, phones, e-mails,
addresses, dates of birth, narratives, restricted officer notes and, undeclared (schema
drift), a social security number. ``permits`` (owned by public works, internal) holds
applicants' names and site addresses. Both datasets are filtered by a department column.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import textwrap
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from governance_helpers import PASSWORD

MARK = "q7zx"  # not hex: no hash can contain it by chance

# Rows per department ("": none), each more than all smaller ones together, so that a
# count of rows tells which departments it is made of; interleaved by a fixed permutation.
_INCIDENT_SHARES = {"police": 20, "patrol": 10, "public-works": 5, "": 3}
_PERMIT_SHARES = {"public-works": 12, "police": 8}


def _spread(shares: dict[str, int]) -> list[str]:
    ordered = [name for name, count in shares.items() for _ in range(count)]
    return [ordered[(i * 7) % len(ordered)] for i in range(len(ordered))]


INCIDENT_DEPARTMENTS = _spread(_INCIDENT_SHARES)
PERMIT_DEPARTMENTS = _spread(_PERMIT_SHARES)
INCIDENTS = len(INCIDENT_DEPARTMENTS)
PERMITS = len(PERMIT_DEPARTMENTS)


def _dob(i: int) -> dt.date:
    # Never the first of a month: generalised to its month, no date of birth survives.
    return dt.date(1940 + i % 50, 1 + i % 12, 14 + i % 14)


def incident_rows() -> list[dict[str, str]]:
    rows = []
    for i in range(INCIDENTS):
        rows.append(
            {
                "incident_id": f"CANARY-ID-{MARK}-{i}",
                "reported_at": f"2025-{1 + i % 6:02d}-{10 + i % 10} {i % 10:02d}:{i:02d}:00",
                "district": ["north", "south", "east"][i % 3],
                "department": INCIDENT_DEPARTMENTS[i],
                "caller_name": f"CANARY-NAME-{MARK}-{i}",
                "caller_phone": f"CANARY-PHONE-{MARK}-{i}",
                "caller_email": f"canary-email-{MARK}-{i}@example.org",
                # Half with a house number (generalised to the block, the unit dropped),
                # half without one (no block to show).
                "address": (
                    f"{1200 + i} Main St, Apt CANARY-UNIT-{MARK}-{i}"
                    if i % 2
                    else f"CANARY-ADDRESS-{MARK}-{i}"
                ),
                "date_of_birth": _dob(i).isoformat(),
                "narrative": f'=HYPERLINK("http://x") CANARY-NARRATIVE-{MARK}-{i}',
                "officer_notes": f"CANARY-NOTES-{MARK}-{i}",
                "ssn": f"CANARY-SSN-{MARK}-{i}",  # not declared: drift, restricted
            }
        )
    return rows


def permit_rows() -> list[dict[str, str]]:
    return [
        {
            "permit_id": f"P-{i:03d}",
            "issued_on": f"2025-0{1 + i % 6}-0{1 + i % 9}",
            "department": PERMIT_DEPARTMENTS[i],
            "applicant_name": f"CANARY-APPLICANT-{MARK}-{i}",
            "site_address": f"{400 + i} Oak Ave",
            "kind": ["-fence", "@deck", "+shed", "roof"][i % 4],  # formula-looking values
            "fee": f"{50 + i}.5",
        }
        for i in range(PERMITS)
    ]


def canaries() -> list[str]:
    """Every planted personal value that no reader without unmask may ever see."""
    found = []
    for row in incident_rows():
        found += [
            row["incident_id"],
            row["caller_name"],
            row["caller_phone"],
            row["caller_email"],
            row["date_of_birth"],
            row["officer_notes"],
            row["ssn"],
            row["narrative"],
            f"CANARY-UNIT-{MARK}",
            f"CANARY-ADDRESS-{MARK}",
            f"CANARY-NARRATIVE-{MARK}",
        ]
    found += [row["applicant_name"] for row in permit_rows()]
    return sorted(set(found))


def leaked(text: str) -> list[str]:
    """The canaries in ``text``; any mention of the marker counts."""
    found = [c for c in canaries() if c in text]
    if MARK in text:
        found.append(f"...{MARK}...")
    return found


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_workspace(root: Path) -> Path:
    files = {
        "civicstat.yaml": """
            name: riverside
            title: City of Riverside
            timezone: America/Chicago
        """,
        "governance.yaml": """
            departments:
              - {id: city, title: City of Riverside}
              - {id: police, title: Police, parent: city}
              - {id: patrol, title: Patrol division, parent: police}
              - {id: public-works, title: Public Works, parent: city}
            masking:
              email: hash
              phone: redact
        """,
        "plan.yaml": """
            title: Riverside plan 2025
            period: {start: 2025-01-01, end: 2025-12-31}
            goals:
              - id: safe-city
                title: A safe city
                objectives:
                  - id: answer-incidents
                    title: Keep incidents in check
                    department: police
                    measure: incidents-reported
                    target: {value: 100, direction: lower_is_better}
        """,
        "measures/incidents-reported.yaml": """
            id: incidents-reported
            title: Incidents reported
            dataset: incidents
            kind: count
            time: reported_at
            breakdowns: [district]
        """,
        "sources/incidents.yaml": """
            id: incidents
            title: Police incidents
            owner: police
            options: {path: data/incidents.csv}
            classification: confidential
            row_access: {column: department}
            columns:
              - {name: incident_id, type: string, pii: identifier}
              - {name: reported_at, type: timestamp}
              - {name: district, type: string}
              - {name: department, type: string}
              - {name: caller_name, type: string, pii: name}
              - {name: caller_phone, type: string, pii: phone}
              - {name: caller_email, type: string, pii: email}
              - {name: address, type: string, pii: address}
              - {name: date_of_birth, type: date, pii: date_of_birth}
              - {name: narrative, type: string, pii: free_text}
              - {name: officer_notes, type: string, classification: restricted}
        """,
        "sources/permits.yaml": """
            id: permits
            title: Building permits
            owner: public-works
            options: {path: data/permits.csv}
            classification: internal
            row_access: {column: department}
            columns:
              - {name: permit_id, type: string}
              - {name: issued_on, type: date}
              - {name: department, type: string}
              - {name: applicant_name, type: string, pii: name, masking: hash}
              - {name: site_address, type: string, pii: address}
              - {name: kind, type: string}
              - {name: fee, type: float}
        """,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    _write_csv(root / "data" / "incidents.csv", incident_rows())
    _write_csv(root / "data" / "permits.csv", permit_rows())
    return root


def _hidden(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="(\w+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = value.group(1).replace("&amp;", "&") if value else ""
    return fields


def sign_in(client: TestClient, username: str, code: str | None = None) -> None:
    """Sign in through the forms, as a browser does (with a TOTP ``code`` when asked)."""
    form = client.get("/login")
    assert form.status_code == 200
    answer: httpx.Response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, **_hidden(form.text)},
    )
    assert answer.status_code == 303, answer.text
    if code is not None:
        form = client.get("/login/code")
        answer = client.post("/login/code", data={"code": code, **_hidden(form.text)})
        assert answer.status_code == 303, answer.text
    assert client.cookies.get("civicstat_session")
