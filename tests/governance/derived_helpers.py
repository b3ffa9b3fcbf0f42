"""Riverside with troubles: values from the data that end up outside the rows API.

On top of Riverside (``reads_helpers``): quality checks on ``incidents`` that fail as
warnings and quote example values of a non-PII column (``district``), a PII column
(``caller_phone``) and a restricted one (``officer_notes``); a second pull of
``incidents`` whose bad timestamps are quarantined and fail the run with an error that
quotes one; and ``sealed_cases``, a restricted police dataset with a PII column, whose
run fails a check quoting example values. Each kind of planted value is a *family*, so a
test can say which families a reader may meet, and where.
"""

from __future__ import annotations

import csv
import html
import textwrap
from pathlib import Path

from reads_helpers import MARK, incident_rows, write_workspace

SEALED = "sealed_cases"
SEALED_TITLE = "Sealed investigations"
BAD_ROWS = 10  # of Riverside's 38 incidents: above the 5% a run may quarantine

# family → what marks it in an answer (HTML unescaped first)
FAMILIES = {
    "district": "'east' (",  # an example of incidents.district: confidential, not PII
    "phone": f"CANARY-PHONE-{MARK}",  # incidents.caller_phone: PII
    "notes": f"CANARY-NOTES-{MARK}",  # incidents.officer_notes: restricted, not PII
    "badrow": f"CANARY-BADROW-{MARK}",  # a quarantined value, quoted by the run's error
    "code": "CODE-zz9k-",  # sealed_cases.case_code: restricted, not PII
    "subject": f"CANARY-SUBJECT-{MARK}",  # sealed_cases.subject_name: restricted PII
    "legacy": f"CANARY-LEGACY-{MARK}",  # a run error kept in an old audit event
    "sealed": SEALED_TITLE,  # that sealed_cases exists at all
    "sealed-id": SEALED,
}

_INCIDENT_CHECKS = """
quality:
  - {check: accepted_values, column: district, values: [north], severity: warn}
  - {check: regex, column: caller_phone, pattern: '^[0-9-]+$', severity: warn}
  - {check: regex, column: officer_notes, pattern: '^ok$', severity: warn}
"""

_SEALED_SPEC = f"""
id: {SEALED}
title: {SEALED_TITLE}
owner: police
options: {{path: data/{SEALED}.csv}}
classification: restricted
row_access: {{column: department}}
columns:
  - {{name: case_id, type: string}}
  - {{name: opened_on, type: date}}
  - {{name: department, type: string}}
  - {{name: subject_name, type: string, pii: name}}
  - {{name: case_code, type: string}}
quality:
  - {{check: regex, column: case_code, pattern: '^OK-[0-9]+$'}}
  - {{check: regex, column: subject_name, pattern: '^[A-Z][a-z]+$', severity: warn}}
"""


def write_troubled_workspace(root: Path) -> Path:
    write_workspace(root)
    incidents = root / "sources" / "incidents.yaml"
    incidents.write_text(incidents.read_text(encoding="utf-8") + _INCIDENT_CHECKS.lstrip())
    spec = textwrap.dedent(_SEALED_SPEC).lstrip()
    (root / "sources" / f"{SEALED}.yaml").write_text(spec, encoding="utf-8")
    write_csv(
        root / "data" / f"{SEALED}.csv",
        [
            {
                "case_id": f"S-{i}",
                "opened_on": f"2025-03-{10 + i}",
                "department": ["police", "patrol"][i % 2],
                "subject_name": f"CANARY-SUBJECT-{MARK}-{i}",
                "case_code": f"CODE-zz9k-{i}",
            }
            for i in range(8)
        ],
    )
    return root


def break_incidents(root: Path) -> None:
    """Rewrite incidents.csv with timestamps that are not timestamps in BAD_ROWS rows."""
    rows = incident_rows()
    for i in range(BAD_ROWS):
        rows[i]["reported_at"] = f"CANARY-BADROW-{MARK}-{i}"
    write_csv(root / "data" / "incidents.csv", rows)


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def families(text: str) -> set[str]:
    """The families of planted values found in ``text`` (HTML or plain)."""
    plain = html.unescape(text)
    return {name for name, mark in FAMILIES.items() if mark in plain}
