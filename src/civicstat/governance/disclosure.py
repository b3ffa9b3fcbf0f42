"""Values and text derived from a dataset's data, wherever they are shown: the rows API's rules.

An example value in a quality check result, a run's error message or warnings, a
quarantined row and its reason, an audit detail, a notification: each is read from a
dataset's cells, so whoever reads it reads that data. :func:`disclosure` is the one place
that decides, for an actor and such a value tied to a dataset (and to the columns it comes
from, when they are known), whether it is

- ``SHOWN``: the actor reads every row of the dataset and those columns in clear, exactly
  as the rows API would give them;
- ``WITHHELD``: the actor may see the dataset but not these values (a masked PII column, a
  column above their clearance, rows of departments they do not read): say that something
  is withheld and why, never the value;
- ``HIDDEN``: the actor may not read the dataset at all: the thing it belongs to is left
  out, and a lookup by its id answers exactly like one for an id that does not exist.

It is built from the rows API's own rules (``permissions.allowed`` and ``cleared``,
``columns.classification``, ``masking.policy``, ``rows.row_scope``), so the two cannot
drift apart. Text whose columns are not known (an error message) may quote any column,
undeclared ones included, so it is shown only to someone who reads the whole dataset in
clear. A masked value is withheld rather than masked: a value quoted inside a sentence
cannot be masked reliably. ``unmask`` reads PII in clear, as the rows API's ``unmask``
does: the caller must record it as ``dataset:unmask`` (``Disclosure.unmasked``).

Anything new that shows data-derived values (a notifier, a report, an API) must ask this
first, through ``services.disclosure``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from civicstat.governance import masking
from civicstat.governance.actors import Actor
from civicstat.governance.columns import classification
from civicstat.governance.permissions import (
    DATASET_READ,
    DATASET_UNMASK,
    Resource,
    allowed,
    cleared,
)
from civicstat.governance.rows import row_scope
from civicstat.spec.models import Department, Masking, PiiKind, Source


class Verdict(StrEnum):
    SHOWN = "shown"
    WITHHELD = "withheld"
    HIDDEN = "hidden"


@dataclass(frozen=True, slots=True)
class Disclosure:
    """What the actor gets of a data-derived value. ``why`` (when withheld) names columns
    and classifications, never a value; ``unmasked`` is true when the value is shown only
    because the read unmasks, which the caller audits as ``dataset:unmask``."""

    verdict: Verdict
    why: str = ""
    unmasked: bool = False

    @property
    def shown(self) -> bool:
        return self.verdict is Verdict.SHOWN

    @property
    def hidden(self) -> bool:
        return self.verdict is Verdict.HIDDEN


HIDDEN = Disclosure(Verdict.HIDDEN)


def disclosure(
    actor: Actor,
    source: Source | None,
    departments: Mapping[str, Department],
    by_kind: Mapping[PiiKind, Masking],
    columns: Collection[str] | None = None,
    *,
    unmask: bool = False,
) -> Disclosure:
    """Whether ``actor`` reads a value derived from the data of ``source``'s dataset.

    ``columns``: the columns the value comes from (empty: it quotes none, such as a count);
    None when they are not known, so it may quote any. ``source`` is None for a dataset no
    longer in the applied plan: hidden, except from those cleared for restricted data, who
    may see that it existed but not its values. ``departments`` and ``by_kind`` are the
    applied plan's departments and governance masking.
    """
    if source is None:
        if cleared(actor, None):
            return _withheld("its source is no longer in the applied plan")
        return HIDDEN
    dataset = source.dataset_id
    resource = Resource("dataset", dataset, source.owner, source.classification)
    if not allowed(actor, DATASET_READ, resource):
        return HIDDEN
    if columns is not None and not columns:
        return Disclosure(Verdict.SHOWN)
    if not row_scope(actor, source, departments).everything:
        return _withheld(f"it may come from rows of {dataset} that you do not read")
    if columns is None:
        # Unknown columns: any of them, and any the spec does not declare (restricted).
        if not cleared(actor, None, dataset):
            return _withheld(f"it may quote any column of {dataset}, some above your clearance")
        names: Collection[str] = [c.name for c in source.columns]
    else:
        names = columns
    masked = []
    for name in names:
        level = classification(source, name)
        if not cleared(actor, level, dataset):
            return _withheld(f"column {name} is {level or 'unclassified'}, above your clearance")
        declared = source.column(name)
        if declared is not None and masking.policy(declared, by_kind) is not None:
            masked.append(name)
    if not masked:
        return Disclosure(Verdict.SHOWN)
    if unmask and allowed(actor, DATASET_UNMASK, resource):
        return Disclosure(Verdict.SHOWN, unmasked=True)
    listed = ", ".join(masked)
    return _withheld(
        f"{listed} {'is' if len(masked) == 1 else 'are'} personal data, masked for you"
    )


def named(actor: Actor, source: Source) -> bool:
    """Whether a list of what a department owns may name ``source`` to ``actor``: its
    dataset is within their clearance (a viewer sees that an internal dataset exists
    without reading it) or they may read it. A dataset above their clearance is named
    nowhere, as one that does not exist; anything derived from its data goes through
    :func:`disclosure`."""
    if actor.role is None:
        return False
    resource = Resource("dataset", source.dataset_id, source.owner, source.classification)
    return cleared(actor, source.classification, source.dataset_id) or allowed(
        actor, DATASET_READ, resource
    )


def _withheld(why: str) -> Disclosure:
    return Disclosure(Verdict.WITHHELD, why)
