"""Riverton's sources as its systems export them: each dataset's declared schema, with the
personal columns a real export carries, its classification and its catalog entry.

Riverton publishes what a real city would: 311 requests and building permits are public,
their personal columns masked or left out (a name, a phone number and free text never
reach the public; an address only as its hundred block); 911 calls stay confidential and
reach the public only through the aggregate measures the performance office approves.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PORTAL", "SOURCES", "column_spec"]

_OPEN_DATA = {"name": "Riverton Open Data Team", "email": "opendata@riverton.example.gov"}

# The portal section of civicstat.yaml.
PORTAL: dict[str, Any] = {
    "title": "Riverton Open Data",
    "publisher": "City of Riverton",
    "contact": _OPEN_DATA,
    "license": "https://opendatacommons.org/licenses/pddl/1-0/",
    "data_policy": "policy.md",
    "embed_origins": ["https://www.riverton.example.gov"],
}

# Per column: (name, type, description), then what it holds when that is personal data.
_NAME = {"pii": "name"}
_PHONE = {"pii": "phone"}
_ADDRESS = {"pii": "address", "masking": "generalise"}
_FREE_TEXT = {"pii": "free_text"}

SOURCES: dict[str, dict[str, Any]] = {
    "calls_911": {
        "title": "911 calls for service",
        "description": "One row per call to the 911 centre, exported nightly from CAD.",
        "owner": "emergency-communications",
        "classification": "confidential",
        "catalog": {
            "keywords": ["911", "emergency calls", "calls for service", "dispatch"],
            "themes": ["Public Safety"],
            "contact": {"name": "Emergency Communications",
                        "email": "ecc-records@riverton.example.gov"},
            "frequency": "daily",
        },
        "columns": [
            ("call_id", "string", "CAD incident number"),
            ("received_at", "timestamp", "Call presented to the 911 centre (local time)"),
            ("answered_at", "timestamp", "Call answered by a call-taker"),
            ("dispatched_at", "timestamp", "First unit assigned; empty when none was"),
            ("arrived_at", "timestamp", "First unit on scene; empty when none arrived"),
            ("answer_seconds", "float", "Seconds from received to answered"),
            ("response_seconds", "float", "Seconds from received to first arrival"),
            ("district", "string", "Police district of the incident"),
            ("call_type", "string", "Nature of the call"),
            ("agency", "string", "POLICE, FIRE or EMS"),
            ("priority", "integer", "1 (most urgent) to 4"),
            ("channel", "string", "E-911, Wireless, Text or Admin line"),
        ],
    },
    "service_requests": {
        "title": "311 service requests",
        "description": "Requests made to 311 by phone, app, web, email or in person, updated "
        "nightly. Published without the reporter's name, phone number or description; "
        "locations are given to the hundred block.",
        "owner": "customer-service",
        "classification": "public",
        "catalog": {
            "keywords": ["311", "service requests", "potholes", "trash", "graffiti",
                         "streetlights"],
            "themes": ["City Services"],
            "contact": {"name": "311 Customer Service", "email": "311@riverton.example.gov"},
            "frequency": "daily",
        },
        "columns": [
            ("request_id", "string", "311 ticket number"),
            ("request_type", "string", "What the resident asked for"),
            ("department", "string", "Department that does the work"),
            ("district", "string", "District of the request's location"),
            ("channel", "string", "How the request came in"),
            ("created_at", "timestamp", "Request created (local time)"),
            ("due_at", "timestamp", "Created plus the request type's service level"),
            ("closed_at", "timestamp", "Request closed; empty while open"),
            ("closed_on_time", "boolean",
             "Closed by due_at; false if late or open past due; empty while open, not yet due"),
            ("address", "string", "Where the work is: published as its hundred block", _ADDRESS),
            ("reporter_name", "string", "Who reported it; empty when anonymous", _NAME),
            ("reporter_phone", "string", "Callback number; empty when none was given", _PHONE),
            ("description", "string", "What the reporter wrote", _FREE_TEXT),
        ],
    },
    "permits": {
        "title": "Building permits",
        "description": "Permit applications and their issue, from the permitting system, "
        "updated nightly. Published without the applicant's name; sites are given to the "
        "hundred block.",
        "owner": "building-permits",
        "classification": "public",
        "catalog": {
            "keywords": ["permits", "building", "construction", "development", "inspections"],
            "themes": ["Housing and Development"],
            "contact": {"name": "Building Permits and Inspections",
                        "email": "permits@riverton.example.gov"},
            "frequency": "daily",
        },
        "columns": [
            ("permit_id", "string", "Permit number"),
            ("permit_type", "string", "Kind of permit"),
            ("work_class", "string", "Kind of work"),
            ("ward", "string", "Ward of the property"),
            ("applied_at", "timestamp", "Application received (local time)"),
            ("issued_at", "timestamp", "Permit issued; empty while pending or withdrawn"),
            ("valuation", "float", "Declared construction value in dollars"),
            ("review_days", "integer", "Calendar days from application to issue"),
            ("applicant_name", "string", "Who applied (owner or agent)", _NAME),
            ("site_address", "string", "Address of the work: published as its hundred block",
             _ADDRESS),
            ("contractor", "string", "Licensed contractor, or Owner-builder"),
        ],
    },
}  # fmt: skip


def column_spec(column: tuple[Any, ...]) -> dict[str, Any]:
    """One column of ``SOURCES`` as the source file declares it."""
    name, kind, description, *personal = column
    spec: dict[str, Any] = {"name": name, "type": kind, "description": description}
    return spec | (personal[0] if personal else {})
