"""The Riverton demo workspace: a complete, valid performance plan over generated data.

Riverton is what ``civicstat demo`` shows a newcomer: three goals, nine department
objectives with targets, one measure per objective and three governed sources. The
targets are set against the generated data's storylines (a 911 staffing crunch still
recovering, a sanitation contract changeover, a permit-review vacancy now filled) so the
scorecard shows a mix of on-target, near-target and off-target objectives. Its portal
publishes what a real city would (see :mod:`.sources`), with a data policy and two
stories (the Markdown files in ``texts/``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from civicstat.demo.generate import Span, default_end, generate
from civicstat.demo.sources import PORTAL, SOURCES, column_spec

__all__ = [
    "APPROVED_FOR_PUBLICATION", "DEPARTMENTS", "GOALS", "OBJECTIVES", "Objective",
    "write_workspace",
]  # fmt: skip

YEARS = 3

DEPARTMENTS: dict[str, str] = {
    "city-manager": "Office of the City Manager",
    "emergency-communications": "Emergency Communications (911)",
    "police": "Police Department",
    "fire-rescue": "Fire and Rescue",
    "public-works": "Public Works",
    "sanitation": "Sanitation",
    "code-enforcement": "Code Enforcement",
    "building-permits": "Building Permits and Inspections",
    "customer-service": "311 Customer Service",
}

GOALS: dict[str, tuple[str, str]] = {
    "safe-neighborhoods": (
        "Safe neighborhoods",
        "Every call for help is answered at once and help arrives fast.",
    ),
    "responsive-services": (
        "Responsive city services",
        "Residents' requests are resolved by the date the city promised.",
    ),
    "thriving-economy": (
        "A thriving local economy",
        "Homes and businesses get permits quickly and predictably.",
    ),
}

_ANSWERED = "channel IN ('E-911', 'Wireless')"
_PLAN_REVIEW = (
    "permit_type IN ('Residential Alteration', 'Residential Addition', 'New Single Family', "
    "'Commercial Alteration', 'New Commercial', 'Demolition', 'Sign')"
)
_TRADES = "permit_type IN ('Electrical', 'Plumbing', 'Mechanical')"


@dataclass(frozen=True, slots=True)
class Objective:
    """One KPO with its measure; ``expected`` is the status the demo data is tuned to show."""

    goal: str
    id: str
    title: str
    department: str
    target: float
    band: float
    measure_id: str
    measure_title: str
    description: str
    dataset: str
    condition: str
    filter: str | None
    time: str
    breakdown: str
    expected: str


OBJECTIVES: tuple[Objective, ...] = (
    Objective(
        "safe-neighborhoods", "answer-911-fast", "Answer 90% of 911 calls within 10 seconds",
        "emergency-communications", 90, 5, "pct-911-answered-10s",
        "Share of 911 calls answered within 10 seconds",
        "NENA call-answering standard. Counts 911 lines only (landline and wireless); "
        "text sessions and the administrative line are excluded.",
        "calls_911", "answer_seconds <= 10", _ANSWERED, "received_at", "district", "near_target",
    ),
    Objective(
        "safe-neighborhoods", "answer-911-within-20s", "Answer 95% of 911 calls within 20 seconds",
        "emergency-communications", 95, 2, "pct-911-answered-20s",
        "Share of 911 calls answered within 20 seconds",
        "Second tier of the NENA standard, on the same calls as the 10-second measure.",
        "calls_911", "answer_seconds <= 20", _ANSWERED, "received_at", "district", "on_target",
    ),
    Objective(
        "safe-neighborhoods", "police-priority-1-response",
        "Reach 80% of priority 1 police calls within 8 minutes", "police", 80, 5,
        "pct-police-p1-8min", "Share of priority 1 police calls reached within 8 minutes",
        "From call received to first unit on scene. Cancelled calls with no arrival "
        "are left out.",
        "calls_911", "response_seconds <= 480",
        "agency = 'POLICE' AND priority = 1 AND arrived_at IS NOT NULL",
        "received_at", "district", "near_target",
    ),
    Objective(
        "safe-neighborhoods", "fire-ems-priority-1-response",
        "Reach 90% of priority 1 fire and EMS calls within 8 minutes", "fire-rescue", 90, 5,
        "pct-fire-ems-p1-8min", "Share of priority 1 fire and EMS calls reached within 8 minutes",
        "From call received to first unit on scene. Cancelled calls with no arrival "
        "are left out.",
        "calls_911", "response_seconds <= 480",
        "agency IN ('FIRE', 'EMS') AND priority = 1 AND arrived_at IS NOT NULL",
        "received_at", "district", "off_target",
    ),
    Objective(
        "responsive-services", "street-requests-on-time",
        "Close 80% of street requests within their service level", "public-works", 80, 5,
        "pct-public-works-on-time", "Share of public works requests closed on time",
        "Potholes, streetlights, signals and sidewalks. Counted in the month the request "
        "was closed, so a finished month's value does not change.",
        "service_requests", "closed_at <= due_at",
        "department = 'public-works' AND closed_at IS NOT NULL",
        "closed_at", "request_type", "on_target",
    ),
    Objective(
        "responsive-services", "sanitation-requests-on-time",
        "Close 90% of sanitation requests within their service level", "sanitation", 90, 5,
        "pct-sanitation-on-time", "Share of sanitation requests closed on time",
        "Missed pickups, bulk items, carts and dumping. Counted in the month the request "
        "was closed.",
        "service_requests", "closed_at <= due_at",
        "department = 'sanitation' AND closed_at IS NOT NULL",
        "closed_at", "request_type", "off_target",
    ),
    Objective(
        "responsive-services", "code-cases-on-time",
        "Resolve 75% of code complaints within their service level", "code-enforcement", 75, 5,
        "pct-code-enforcement-on-time", "Share of code enforcement requests closed on time",
        "Graffiti, noise, overgrown lots and abandoned vehicles. Counted in the month the "
        "request was closed.",
        "service_requests", "closed_at <= due_at",
        "department = 'code-enforcement' AND closed_at IS NOT NULL",
        "closed_at", "district", "near_target",
    ),
    Objective(
        "thriving-economy", "plan-review-30-days",
        "Issue 75% of plan-reviewed permits within 30 days", "building-permits", 75, 5,
        "pct-permits-issued-30d", "Share of plan-reviewed permits issued within 30 days",
        "Calendar days from application to issue, counted in the month of issue.",
        "permits", "review_days <= 30", f"issued_at IS NOT NULL AND {_PLAN_REVIEW}",
        "issued_at", "permit_type", "on_target",
    ),
    Objective(
        "thriving-economy", "trade-permits-fast",
        "Issue 90% of trade permits within 2 days", "building-permits", 90, 5,
        "pct-trade-permits-2d", "Share of trade permits issued within 2 days",
        "Electrical, plumbing and mechanical permits issued over the counter, counted in "
        "the month of issue.",
        "permits", "review_days <= 2", f"issued_at IS NOT NULL AND {_TRADES}",
        "issued_at", "ward", "on_target",
    ),
)  # fmt: skip

# Measures over confidential data that the performance office approves for the portal:
# 911 calls stay confidential, their aggregate KPIs are published.
APPROVED_FOR_PUBLICATION: tuple[str, ...] = tuple(
    o.measure_id for o in OBJECTIVES if SOURCES[o.dataset]["classification"] != "public"
)


def write_workspace(
    root: Path,
    *,
    seed: int = 7,
    end: dt.date | None = None,
    calls: int = 1_100_000,
) -> None:
    """Write the Riverton workspace (spec files, data policy, stories and generated data)
    into ``root``."""
    span = Span.ending(end or default_end(), YEARS)
    for folder in ("measures", "sources", "stories"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    _write(root / "civicstat.yaml", "Riverton, the CivicStat demo city: every number is made up.", {
        "name": "riverton",
        "title": "City of Riverton",
        "timezone": "America/New_York",
        "fiscal_year_start_month": 7,
        "holidays": {"country": "US", "subdivision": "VA"},
        "portal": PORTAL,
    })  # fmt: skip
    departments = [
        {"id": d, "title": t} | ({} if d == "city-manager" else {"parent": "city-manager"})
        for d, t in DEPARTMENTS.items()
    ]
    _write(root / "governance.yaml", "Who owns what; public cells under k are suppressed.", {
        "departments": departments,
        "suppression": {"k": 11},
    })  # fmt: skip
    goals = [
        {"id": g, "title": title, "description": text,
         "objectives": [_objective(o) for o in OBJECTIVES if o.goal == g]}
        for g, (title, text) in GOALS.items()
    ]  # fmt: skip
    _write(root / "plan.yaml", "Riverton's strategic plan: goals met through KPOs.", {
        "title": "Riverton Strategic Plan",
        "period": {"start": span.start, "end": span.end},
        "goals": goals,
    })  # fmt: skip
    for o in OBJECTIVES:
        comment = f"KPI of objective {o.id} ({o.department})."
        _write(root / "measures" / f"{o.measure_id}.yaml", comment, _measure(o))
    for dataset, source in SOURCES.items():
        comment = f"{source['title']}, generated by civicstat.demo."
        _write(root / "sources" / f"{dataset}.yaml", comment, {
            "id": dataset, "title": source["title"], "description": source["description"],
            "owner": source["owner"], "connector": "file",
            "options": {"path": f"data/{dataset}.parquet"},
            "load": "replace", "classification": source["classification"],
            "catalog": source["catalog"],
            "columns": [column_spec(c) for c in source["columns"]],
        })  # fmt: skip
    # Published the day after the last month of data: never later than a default build.
    _write_texts(root, published=span.end + dt.timedelta(days=1))
    generate(root / "data", seed=seed, end=span.end, calls=calls, years=YEARS)


def _write_texts(root: Path, *, published: dt.date) -> None:
    """The data policy, and the stories dated the day after the data's last month."""
    texts = files("civicstat.demo") / "texts"
    (root / str(PORTAL["data_policy"])).write_text(
        (texts / "policy.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    for story in sorted((texts / "stories").iterdir(), key=lambda t: t.name):
        if story.name.endswith(".md"):
            text = story.read_text(encoding="utf-8").replace("@published@", published.isoformat())
            (root / "stories" / story.name).write_text(text, encoding="utf-8")


def _objective(o: Objective) -> dict[str, Any]:
    target = {"value": o.target, "direction": "higher_is_better", "warning_band": o.band}
    return {"id": o.id, "title": o.title, "department": o.department, "measure": o.measure_id,
            "target": target}  # fmt: skip


def _measure(o: Objective) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": o.measure_id, "title": o.measure_title, "description": o.description,
        "dataset": o.dataset, "kind": "share", "condition": o.condition,
    }  # fmt: skip
    if o.filter:
        body["filter"] = o.filter
    return body | {"time": o.time, "grain": "month", "breakdowns": [o.breakdown], "unit": "percent"}


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, as people write YAML by hand."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _write(path: Path, comment: str, body: dict[str, Any]) -> None:
    """YAML in the order given, under a one-line comment saying what the file is for."""
    text = yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(f"# {comment}\n{text}", encoding="utf-8")
