"""Observations: computed measure values, kept with their provenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from civicstat.domain.observations import ObservationRow
from civicstat.metadata.models import DataVersion, Observation, utcnow


def replace_current(
    session: Session,
    *,
    measure_id: str,
    grain: str,
    definition_hash: str,
    data_version_id: int,
    rows: Iterable[ObservationRow],
    from_period: dt.date | None = None,
) -> bool:
    """Make ``rows`` the measure's current observations; earlier ones are kept, superseded.

    With ``from_period`` only the periods from that one on are replaced (an incremental
    refresh); earlier periods keep their observations. Without it, returns False (and
    changes nothing) when the current observations already come from this definition and
    this data version.
    """
    current = [Observation.measure_id == measure_id, Observation.superseded_at.is_(None)]
    if from_period is None:
        # Unchanged only if every current row (after partial refreshes, rows of several data
        # versions may be current) comes from this definition and this data version.
        some = session.scalar(select(Observation.id).where(*current).limit(1))
        other = session.scalar(
            select(Observation.id)
            .where(
                *current,
                or_(
                    Observation.definition_hash != definition_hash,
                    Observation.data_version_id != data_version_id,
                ),
            )
            .limit(1)
        )
        if some is not None and other is None:
            return False
    else:
        current.append(Observation.period_start >= from_period)
    now = utcnow()
    session.execute(update(Observation).where(*current).values(superseded_at=now))
    session.add_all(
        Observation(
            measure_id=measure_id,
            grain=grain,
            period_start=r.period_start,
            period_end=r.period_end,
            slice_key=r.slice_key,
            value=r.value,
            numerator=r.numerator,
            denominator=r.denominator,
            n=r.n,
            definition_hash=definition_hash,
            data_version_id=data_version_id,
            computed_at=now,
        )
        for r in rows
    )
    return True


def current_definition(session: Session, measure_id: str) -> str | None:
    """The definition hash behind the measure's current observations, if any."""
    return session.scalar(
        select(Observation.definition_hash)
        .where(Observation.measure_id == measure_id, Observation.superseded_at.is_(None))
        .limit(1)
    )


def versions_from(session: Session, measure_id: str, from_period: dt.date) -> set[int]:
    """The data versions behind the measure's current observations from a period on."""
    return set(
        session.scalars(
            select(Observation.data_version_id)
            .where(
                Observation.measure_id == measure_id,
                Observation.superseded_at.is_(None),
                Observation.period_start >= from_period,
            )
            .distinct()
        )
    )


def latest_period(session: Session, measure_id: str) -> dt.date | None:
    """The start of the latest period the measure has a current observation for."""
    return session.scalar(
        select(Observation.period_start)
        .where(Observation.measure_id == measure_id, Observation.superseded_at.is_(None))
        .order_by(Observation.period_start.desc())
        .limit(1)
    )


def values_at(session: Session, measure_id: str, period_start: dt.date) -> dict[str, float | None]:
    """The current value of each slice (by key) in one period; slices without one absent."""
    found = session.execute(
        select(Observation.slice_key, Observation.value).where(
            Observation.measure_id == measure_id,
            Observation.superseded_at.is_(None),
            Observation.period_start == period_start,
        )
    )
    return dict(found.all())  # rows of (slice key, value)


def current_series(session: Session, measure_id: str, slice_key: str = "") -> Sequence[Observation]:
    return session.scalars(
        select(Observation)
        .where(
            Observation.measure_id == measure_id,
            Observation.superseded_at.is_(None),
            Observation.slice_key == slice_key,
        )
        .order_by(Observation.period_start)
    ).all()


def current_rows(
    session: Session, measure_id: str, from_period: dt.date | None = None
) -> list[ObservationRow]:
    """Every current observation of a measure (all periods, or those from ``from_period``
    on, and all slices), oldest first."""
    where = [Observation.measure_id == measure_id, Observation.superseded_at.is_(None)]
    if from_period is not None:
        where.append(Observation.period_start >= from_period)
    found = session.scalars(
        select(Observation).where(*where).order_by(Observation.period_start, Observation.slice_key)
    )
    return [
        ObservationRow(
            o.period_start, o.period_end, o.slice_key, o.value, o.numerator, o.denominator, o.n
        )
        for o in found
    ]


def current_data_version(session: Session, measure_id: str) -> int | None:
    """The newest data version behind a measure's current observations, if any."""
    return session.scalar(
        select(Observation.data_version_id)
        .where(Observation.measure_id == measure_id, Observation.superseded_at.is_(None))
        .order_by(Observation.data_version_id.desc())
        .limit(1)
    )


def current_observations(session: Session, measure_id: str) -> Sequence[Observation]:
    """Every current observation of a measure with its provenance, by period and slice."""
    return session.scalars(
        select(Observation)
        .where(Observation.measure_id == measure_id, Observation.superseded_at.is_(None))
        .order_by(Observation.period_start, Observation.slice_key)
    ).all()


# --- reads for people: series, breakdowns, lineage, the plan and what changed ---------------


def every_version(session: Session, measure_id: str, slice_key: str) -> list[Observation]:
    """Every observation of one slice, superseded ones included, by period then age."""
    return list(
        session.scalars(
            select(Observation)
            .where(Observation.measure_id == measure_id, Observation.slice_key == slice_key)
            .order_by(Observation.period_start, Observation.computed_at, Observation.id)
        )
    )


def current_slices(session: Session, measure_id: str) -> list[str]:
    """The keys of the slices the measure currently has a value for, sorted."""
    keys = session.scalars(
        select(Observation.slice_key)
        .where(Observation.measure_id == measure_id, Observation.superseded_at.is_(None))
        .distinct()
    )
    return sorted(keys)


def period_history(
    session: Session, measure_id: str, slice_key: str, period_start: dt.date
) -> list[tuple[Observation, DataVersion]]:
    """Every value computed for one period and slice, oldest first, with its data version."""
    found = session.execute(
        select(Observation, DataVersion)
        .join(DataVersion, DataVersion.id == Observation.data_version_id)
        .where(
            Observation.measure_id == measure_id,
            Observation.slice_key == slice_key,
            Observation.period_start == period_start,
        )
        .order_by(Observation.computed_at, Observation.id)
    ).all()
    return [(o, v) for o, v in found]


def current_cells(
    session: Session, measure_id: str
) -> list[tuple[str, dt.date, float | None, int]]:
    """(slice key, period start, value, n) of every current observation, by slice and period."""
    found = session.execute(
        select(Observation.slice_key, Observation.period_start, Observation.value, Observation.n)
        .where(Observation.measure_id == measure_id, Observation.superseded_at.is_(None))
        .order_by(Observation.slice_key, Observation.period_start)
    ).all()
    return [(key, start, value, n) for key, start, value, n in found]


def current_extent(session: Session, measure_id: str) -> tuple[dt.datetime | None, int]:
    """When the newest current observation was computed, and how many are current."""
    computed_at, count = session.execute(
        select(func.max(Observation.computed_at), func.count(Observation.id)).where(
            Observation.measure_id == measure_id, Observation.superseded_at.is_(None)
        )
    ).one()
    return computed_at, count


def current_span(session: Session, measure_id: str) -> tuple[dt.date | None, dt.date | None]:
    """The first period's start and the last period's end (exclusive) of the current
    observations of a measure."""
    first, last = session.execute(
        select(func.min(Observation.period_start), func.max(Observation.period_end)).where(
            Observation.measure_id == measure_id, Observation.superseded_at.is_(None)
        )
    ).one()
    return first, last


def versions_used(session: Session, measure_id: str, dataset_id: str) -> list[int]:
    """The versions of a dataset behind the measure's current observations, ascending."""
    found = session.scalars(
        select(DataVersion.version)
        .join(Observation, Observation.data_version_id == DataVersion.id)
        .where(
            Observation.measure_id == measure_id,
            Observation.superseded_at.is_(None),
            DataVersion.dataset_id == dataset_id,
        )
        .distinct()
    ).all()
    return sorted(found)


def latest_totals(session: Session, measure_ids: Iterable[str]) -> dict[str, Observation]:
    """Each measure's current all-slice observation of its latest period."""
    rows = session.scalars(
        select(Observation).where(
            Observation.measure_id.in_(list(measure_ids)),
            Observation.superseded_at.is_(None),
            Observation.slice_key == "",
        )
    )
    latest: dict[str, Observation] = {}
    for row in rows:
        if row.measure_id not in latest or row.period_start > latest[row.measure_id].period_start:
            latest[row.measure_id] = row
    return latest


def recent_totals(
    session: Session, measure_ids: Iterable[str]
) -> dict[str, list[tuple[dt.date, float | None]]]:
    """Each measure's current all-slice values, oldest period first."""
    found = session.execute(
        select(Observation.measure_id, Observation.period_start, Observation.value)
        .where(
            Observation.measure_id.in_(sorted(measure_ids)),
            Observation.superseded_at.is_(None),
            Observation.slice_key == "",
        )
        .order_by(Observation.measure_id, Observation.period_start)
    )
    out: dict[str, list[tuple[dt.date, float | None]]] = {}
    for measure_id, start, value in found:
        out.setdefault(measure_id, []).append((start, value))
    return out


def newest_id(session: Session) -> int:
    """The id of the newest observation stored, 0 when there is none."""
    return session.scalar(select(func.max(Observation.id))) or 0


def measures_stored_between(session: Session, after: int, upto: int) -> list[str]:
    """The measures given observations with ids in (after, upto]."""
    return list(
        session.scalars(
            select(Observation.measure_id)
            .where(Observation.id > after, Observation.id <= upto)
            .distinct()
        ).all()
    )
