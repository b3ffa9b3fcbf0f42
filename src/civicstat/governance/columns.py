"""Which columns of a dataset an actor sees, and how: in clear, masked, or not at all.

A declared column has the classification the source spec gives it (its own, or the
source's); a column the spec does not declare (schema drift) is unclassified, hence
restricted, until a steward declares it. A column above the actor's clearance is left out;
a PII column is masked unless the read unmasks it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from civicstat.governance import masking
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import cleared
from civicstat.spec.models import Classification, Column, Masking, PiiKind, Source


@dataclass(frozen=True, slots=True)
class ColumnView:
    """One column as a reader gets it. ``masking`` is None when they read it in clear."""

    name: str
    type: str
    classification: Classification | None  # None: unclassified, read as restricted
    pii: PiiKind | None = None
    masking: Masking | None = None
    declared: Column | None = None

    @property
    def clear(self) -> bool:
        return self.masking is None


def classification(source: Source, name: str) -> Classification | None:
    """A column's classification; None for a column the source spec does not declare."""
    declared = source.column(name)
    if declared is None:
        return None
    return declared.classification or source.classification


def visible_columns(
    actor: Actor,
    source: Source,
    stored: Sequence[Mapping[str, str]],
    by_kind: Mapping[PiiKind, Masking],
    *,
    unmask: bool = False,
) -> list[ColumnView]:
    """The columns of a data version (``stored``: its recorded columns, in order) that
    ``actor`` reads, each with its masking. ``unmask`` reads PII in clear: the caller must
    have checked the ``dataset:unmask`` permission first."""
    views = []
    for column in stored:
        name = column["name"]
        declared = source.column(name)
        level = classification(source, name)
        if not cleared(actor, level, source.dataset_id):
            continue
        how = None if declared is None or unmask else masking.policy(declared, by_kind)
        if how is Masking.DROP or (actor.kind == "public" and _withheld_from_public(how)):
            continue
        views.append(
            ColumnView(
                name=name,
                type=declared.type if declared else column.get("type", "string"),
                classification=level,
                pii=declared.pii if declared else None,
                masking=how,
                declared=declared,
            )
        )
    return views


def _withheld_from_public(how: Masking | None) -> bool:
    """The public reads personal data only generalised (a date to its month, an address to
    its hundred block): a redacted or hashed column tells it nothing worth the risk (a
    keyed hash still links one person's records), so it is left out."""
    return how is not None and how is not Masking.GENERALISE
