"""The disclosure rule (``governance.disclosure``) bound to the applied plan and one reader.

Every service that shows a value or a text derived from a dataset's data (run errors and
warnings, quality check results, quarantined rows, audit details, lineage, notifications
to come) asks a :class:`Reader` before it shows it: ``text`` gives the text or, when it is
withheld, a sentence saying so that quotes nothing of it; ``visible`` says whether the
dataset may be mentioned at all. ``record`` then audits what was shown as the rows API
audits its reads: ``dataset:read`` for values of confidential or restricted data,
``dataset:unmask`` for values shown in clear only because the reader unmasked.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.audit import Event, Outcome
from civicstat.governance.columns import classification
from civicstat.governance.disclosure import HIDDEN, Disclosure, disclosure
from civicstat.governance.permissions import DATASET_UNMASK, Resource, allowed
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import Forbidden
from civicstat.spec.models import Classification

_AUDITED = {Classification.CONFIDENTIAL, Classification.RESTRICTED}


@dataclass(frozen=True, slots=True)
class Said:
    """A data-derived text as one reader gets it: the text itself, or (``withheld``) a
    sentence that says why it is not shown."""

    text: str
    withheld: bool = False


def withheld(what: str, found: Disclosure) -> Said:
    """The sentence shown in place of a withheld text: what it was and why, no value."""
    return Said(f"{what} withheld: {found.why or 'not yours to read'}", withheld=True)


class Reader:
    """One actor reading data-derived values under the applied plan (None: none applied),
    for the length of one answer. ``unmask`` reads PII in clear where the actor holds
    ``dataset:unmask``, as the rows API's ``unmask=true``."""

    def __init__(self, plan: AppliedPlan | None, actor: Actor, *, unmask: bool = False) -> None:
        self.plan = plan
        self.actor = actor
        self.unmask = unmask
        self.unmasked: set[str] = set()  # datasets read in clear only because of unmask
        self.sensitive: set[str] = set()  # datasets whose confidential/restricted values it read

    def of(self, dataset_id: str, columns: Collection[str] | None = None) -> Disclosure:
        """The verdict on a value of ``dataset_id`` from ``columns`` (None: not known)."""
        if self.plan is None:
            return HIDDEN
        found = disclosure(
            self.actor,
            self.plan.source_for_dataset(dataset_id),
            self.plan.departments,
            self.plan.masking,
            columns,
            unmask=self.unmask,
        )
        if found.unmasked:
            self.unmasked.add(dataset_id)
        if found.shown and (columns is None or columns) and self._sensitive(dataset_id, columns):
            self.sensitive.add(dataset_id)
        return found

    def _sensitive(self, dataset_id: str, columns: Collection[str] | None) -> bool:
        assert self.plan is not None
        source = self.plan.source_for_dataset(dataset_id)
        if source is None or columns is None:
            return True  # may quote an undeclared column: restricted
        levels = [source.classification, *(classification(source, c) for c in columns)]
        return any((level or Classification.RESTRICTED) in _AUDITED for level in levels)

    def visible(self, dataset_id: str) -> bool:
        """Whether the dataset may be named to the reader at all (its runs listed, its
        lineage shown); when not, answer as for a dataset that does not exist."""
        return not self.of(dataset_id, ()).hidden

    def sees_retired(self) -> bool:
        """Whether the reader may be told of datasets no longer in the applied plan (that
        they existed; never their values)."""
        return self.plan is not None and not disclosure(self.actor, None, {}, {}, ()).hidden

    def text(
        self, dataset_id: str, text: str, columns: Collection[str] | None = None, *, what: str
    ) -> Said:
        """``text`` when the reader may read it, else a sentence naming ``what`` was
        withheld and why. Call ``visible`` first: a hidden dataset's text is not shown
        and not mentioned."""
        found = self.of(dataset_id, columns)
        return Said(text) if found.shown else withheld(what, found)

    def record(self, ctx: Context, via: str) -> None:
        """Audit what this reader was shown, in its own transaction, before it is shown:
        ``dataset:read`` of each confidential or restricted dataset whose values it read,
        ``dataset:unmask`` of each read in clear only because it unmasked. ``via`` names
        the surface (runs, audit...)."""
        if not (self.unmasked or self.sensitive):
            return
        with ctx.db.write() as session:
            for dataset_id in sorted(self.unmasked):
                audit.record(
                    session, self.actor, Event.DATASET_UNMASK, "dataset", dataset_id, via=via
                )
            for dataset_id in sorted(self.sensitive):
                audit.record(
                    session, self.actor, Event.DATASET_READ, "dataset", dataset_id, via=via
                )


def require_unmask(ctx: Context, plan: AppliedPlan | None, actor: Actor) -> None:
    """Refuse ``unmask`` to an actor who may unmask no dataset (``Forbidden``, audited)."""
    sources = plan.sources.values() if plan else ()
    if any(
        allowed(actor, DATASET_UNMASK, Resource("dataset", s.dataset_id, s.owner, s.classification))
        for s in sources
    ):
        return
    if actor.is_authenticated:
        with ctx.db.write() as session:
            audit.record(session, actor, Event.DATASET_UNMASK, "dataset", "*", Outcome.DENIED)
    raise Forbidden(
        "reading personal data in clear (unmask) needs the dataset:unmask permission "
        "(admin or steward) and a sign-in with a second factor"
    )
