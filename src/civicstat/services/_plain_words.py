"""A measure's definition in plain words for the public: which rows count, which do not,
and how each is placed in a period, from the fields of its spec.

SQL conditions are read out word for word ("closed_at is set and closed_at is at most
due_at"); over data that is not public they are left out and only what the kind does is
said, since the column names and values of such data are not published.
"""

from __future__ import annotations

import re

from civicstat.plan import AppliedPlan
from civicstat.spec.models import Measure

# Longest first: "IS NOT NULL" before "IS NULL" before "NOT".
_WORDS = [
    (r"\bIS\s+NOT\s+NULL\b", "is set"),
    (r"\bIS\s+NULL\b", "is empty"),
    (r"\bNOT\s+IN\b", "is not one of"),
    (r"\bIN\b", "is one of"),
    (r"\bNOT\s+LIKE\b", "does not match"),
    (r"\bLIKE\b", "matches"),
    (r"\bBETWEEN\b", "is between"),
    (r"\bAND\b", "and"),
    (r"\bOR\b", "or"),
    (r"\bNOT\b", "not"),
    (r"\bTRUE\b", "true"),
    (r"\bFALSE\b", "false"),
    (r"<=", " is at most "),
    (r">=", " is at least "),
    (r"<>|!=", " is not "),
    (r"=", " is "),
    (r"<", " is less than "),
    (r">", " is more than "),
]
_QUOTED = re.compile(r"('(?:[^']|'')*')")


def words(expression: str) -> str:
    """A SQL condition read out: operators in words, quoted values and names kept."""
    parts = _QUOTED.split(expression)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 1:  # a quoted value, as written
            out.append(part)
            continue
        for pattern, word in _WORDS:
            part = re.sub(pattern, word, part, flags=re.IGNORECASE)
        out.append(part)
    return " ".join("".join(out).split())


def what_counts(
    plan: AppliedPlan, row: Measure, measure: Measure, *, show_conditions: bool
) -> list[str]:
    """Sentences saying what counts in ``measure`` (computed by the row measure ``row``)
    and what does not; the conditions themselves only when ``show_conditions``."""
    said: list[str] = []
    if row.dataset is not None:
        source = plan.source_for_dataset(row.dataset)
        name = source.title if source else row.dataset
        said.append(f"Computed from the dataset “{name}”.")
    if row.filter:
        said.append(
            f"Only rows where {words(row.filter)} count at all; every other row is left out."
            if show_conditions
            else "Only some of the rows count at all: the definition selects them."
        )
    if row.condition:
        said.append(
            f"A row counts as meeting the measure when {words(row.condition)}; a row where "
            "this is not so, or cannot be told, does not."
            if show_conditions
            else "A row counts as meeting the measure when it meets the condition set in the "
            "definition; a row where this cannot be told does not."
        )
    if row.value and show_conditions:
        said.append(f"The value taken from each row is {words(row.value)}.")
    if row.start and row.end and show_conditions:
        said.append(
            f"An item is open from its {row.start} until its {row.end}."
            if row.kind == "backlog"
            else f"The time taken is from {row.start} to {row.end}."
        )
    if row.per:
        said.append(f"The value is per {row.per:,g} of the population.")
    grain = str(measure.grain).replace("_", " ")
    if row.time:
        where = f" by its {row.time}" if show_conditions else ""
        said.append(f"Each row is counted in the {grain}{where}.")
    if row.window is not None and row.window.trailing:
        said.append(f"Each value covers the last {row.window.trailing} {grain}s up to it.")
    if row.window is not None and row.window.to_date:
        said.append(
            f"Values add up from the start of each {row.window.to_date.replace('_', ' ')} to date."
        )
    for role, other in _inputs(measure):
        found = plan.measures.get(other)
        said.append(f"Its {role} is the measure “{found.title if found else other}”.")
    return said


def _inputs(measure: Measure) -> list[tuple[str, str]]:
    named = [("numerator", measure.numerator), ("denominator", measure.denominator)]
    out = [(role, m) for role, m in named if m]
    return out + [(f"input {name}", m) for name, m in sorted(measure.inputs.items())]
