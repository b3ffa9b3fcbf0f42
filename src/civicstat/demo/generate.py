"""Seeded, vectorised generator of Riverton's demo data: 911 calls, 311 requests, permits.

The demo, the docs and the benchmarks need a city whose numbers behave like a real one
(night troughs, summer peaks, a dispatcher staffing crunch, a 311 backlog) and are yet
reproducible byte for byte. Each dataset draws from its own ``PCG64`` stream spawned from
the seed, so resizing one dataset leaves the others unchanged; the personal columns of
311 requests and permits (:mod:`._personal`) come from a stream spawned from their
dataset's, so adding them changed none of the other draws. Timestamps are local,
naive wall-clock times, as CAD, 311 and permitting systems export them; the storylines
are placed relative to the last month, so every ``end`` tells the same story.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from civicstat.demo import _personal
from civicstat.demo._draw import (
    Span,
    categorical,
    daily_events,
    default_end,
    ids,
    labels,
    month_of,
    timestamps,
    weekday_of,
    year_of,
)
from civicstat.demo.city import (
    AGENCIES,
    CALL_TYPES,
    CHANNEL_BY_PRIORITY,
    CHANNEL_QUEUE,
    CHANNELS_311,
    CHANNELS_911,
    DATASETS,
    DAY,
    DISTRICT_QUEUE,
    DISTRICT_SHARE,
    DISTRICT_TRAVEL,
    DISTRICTS,
    DIURNAL,
    HOUR,
    HOUR_PROFILES,
    MONTH_DAYS,
    PERMIT_TYPES,
    REQUEST_TYPES,
    SEASON_911,
    SEASONS,
    WARDS,
    WEEKDAY,
    WORK_CLASSES,
    CallType,
    Floats,
    Ints,
    PermitType,
    RequestType,
)

__all__ = [
    "CALL_TYPES", "DATASETS", "DISTRICTS", "PERMIT_TYPES", "REQUEST_TYPES", "WARDS", "CallType",
    "PermitType", "RequestType", "Span", "calls_911", "default_end", "generate", "permits",
    "service_requests",
]  # fmt: skip


def generate(
    data_dir: Path,
    *,
    seed: int = 7,
    end: dt.date | None = None,
    calls: int = 1_100_000,
    years: int = 3,
) -> dict[str, Path]:
    """Write the three demo datasets as zstd Parquet into ``data_dir``; return their paths."""
    span = Span.ending(end or default_end(), years)
    data_dir.mkdir(parents=True, exist_ok=True)
    streams = np.random.SeedSequence(seed).spawn(len(DATASETS))
    paths: dict[str, Path] = {}
    for name, stream in zip(DATASETS, streams, strict=True):
        rng = np.random.Generator(np.random.PCG64(stream))
        personal = np.random.Generator(np.random.PCG64(stream.spawn(1)[0]))
        # One table at a time, so only one is ever in memory.
        if name == "calls_911":
            table = calls_911(span, rng, calls)
        elif name == "service_requests":
            table = _with(service_requests(span, rng), _personal.request_columns, personal)
        else:
            table = _with(permits(span, rng), _personal.permit_columns, personal)
        paths[name] = data_dir / f"{name}.parquet"
        pq.write_table(table, paths[name], compression="zstd", row_group_size=256_000)
        del table
    return paths


def _with(
    table: pa.Table,
    columns: Callable[[pa.Table, np.random.Generator], dict[str, pa.Array]],
    rng: np.random.Generator,
) -> pa.Table:
    """``table`` with the personal columns drawn for it appended."""
    for name, values in columns(table, rng).items():
        table = table.append_column(name, values)
    return table


# --- 911 calls -------------------------------------------------------------------------


def calls_911(span: Span, rng: np.random.Generator, n: int) -> pa.Table:
    """``n`` calls to the 911 centre, one row per call, in order of arrival."""
    hours = np.arange(span.days * 24)
    hour_s = span.start_s + hours * HOUR
    day, hod = hour_s // DAY, hours % 24
    month = month_of(hour_s)
    growth = 1.03 ** ((hour_s - span.start_s) / (365.25 * DAY))
    weekend_night = np.isin(weekday_of(day), [5, 6]) & (hod < 4)
    noise = rng.lognormal(0.0, 0.05, span.days)[day - day[0]]  # weather, events
    weight = (
        DIURNAL[hod] * WEEKDAY[weekday_of(day)] * SEASON_911[month % 12] * growth
        * np.where(weekend_night, 1.35, 1.0) * noise * _holiday_boost(hour_s)
    )  # fmt: skip
    counts = rng.multinomial(n, weight / weight.sum())
    at = np.repeat(hours, counts)  # each call's hour; stays aligned after the sort below
    received = np.sort(hour_s[at] + rng.integers(0, HOUR, n))

    # Call types lean on the time of day (collisions at rush hour, noise at night).
    names = list(CALL_TYPES)
    kinds = list(CALL_TYPES.values())
    profiles = np.stack([HOUR_PROFILES[k.hours] * k.share for k in kinds], axis=1)
    ctype = categorical(rng, profiles, hod[at])
    agency = np.array([AGENCIES.index(k.agency) for k in kinds])[ctype]
    priority = np.array([k.priority for k in kinds])[ctype]
    district = rng.choice(len(DISTRICTS), n, p=DISTRICT_SHARE)
    channel = categorical(rng, CHANNEL_BY_PRIORITY, priority - 1)

    # Schedules follow the daily and yearly curves only partly, and the floor has been
    # short-staffed since the crunch, so busy hours, summers and recent months queue more.
    staff = DIURNAL[hod] ** 0.6 * SEASON_911[month % 12] ** 0.7 * growth * _staffing(span, hour_s)
    load = (weight / weight.mean() / staff)[at]  # demand per call-taker on the floor
    at_month, at_hod = month[at], hod[at]
    answered = received + _answer_seconds(rng, load, district, channel)
    process, travel = _dispatch_and_travel(rng, load, priority, agency, district, at_month, at_hod)
    dispatched = answered + process
    arrived = dispatched + travel
    del load, process, travel, at_month, at_hod  # keeps the peak memory down
    no_arrival = rng.random(n) < np.array([0.035, 0.06, 0.11, 0.19])[priority - 1]
    no_dispatch = no_arrival & (rng.random(n) < 0.45)  # cancelled, or handled by phone

    year = year_of(received)
    return pa.table({
        "call_id": ids("R", year, 7),
        "received_at": timestamps(received),
        "answered_at": timestamps(answered),
        "dispatched_at": timestamps(dispatched, no_dispatch),
        "arrived_at": timestamps(arrived, no_arrival),
        "answer_seconds": pa.array((answered - received).astype(np.float64)),
        "response_seconds": pa.array((arrived - received).astype(np.float64), mask=no_arrival),
        "district": labels(DISTRICTS, district),
        "call_type": labels(names, ctype),
        "agency": labels(AGENCIES, agency),
        "priority": pa.array(priority.astype(np.int32)),
        "channel": labels(CHANNELS_911, channel),
    })  # fmt: skip


def _answer_seconds(rng: np.random.Generator, load: Floats, district: Ints, channel: Ints) -> Ints:
    """Most calls ring a free call-taker; the rest queue, more often the busier the floor."""
    n = len(load)
    p_queue = 0.09 * load**2.5 * DISTRICT_QUEUE[district] * CHANNEL_QUEUE[channel]
    queued = rng.random(n) < np.minimum(p_queue, 0.8)
    ring = rng.lognormal(np.log(4.0), 0.4, n) * np.where(channel == 2, 3.0, 1.0)  # texts: slower
    wait = rng.gamma(2.0, 5.0, n) + rng.exponential(25.0, n) * (rng.random(n) < 0.06)
    seconds: Ints = np.rint(ring + queued * wait).astype(np.int64)
    return np.maximum(seconds, 1, out=seconds)


def _dispatch_and_travel(
    rng: np.random.Generator,
    load: Floats,
    priority: Ints,
    agency: Ints,
    district: Ints,
    month: Ints,
    hod: Ints,
) -> tuple[Ints, Ints]:
    """Seconds answered → dispatched and dispatched → on scene.

    Urgent calls go out at once; the rest wait for a free unit, longer when busy. Travel
    is slower in outlying districts, at rush hour and in January and February snow.
    """
    pi = priority - 1
    busy = load ** np.array([0.2, 0.5, 0.9, 1.1])[pi]
    process_median = np.array([58.0, 150.0, 420.0, 1000.0])[pi]
    process = rng.lognormal(np.log(process_median), np.array([0.45, 0.6, 0.7, 0.8])[pi])
    travel_median = (
        np.array([290.0, 470.0, 680.0, 820.0])[pi] * np.array([0.985, 1.02, 1.02])[agency]
        * DISTRICT_TRAVEL[district] * np.where(np.isin(month % 12, [0, 1]), 1.02, 1.0)
        * np.where(np.isin(hod, [7, 8, 16, 17, 18]), 1.1, 1.0)
    )  # fmt: skip
    travel = rng.lognormal(np.log(travel_median), np.array([0.42, 0.3, 0.3])[agency])
    return np.rint(process * busy).astype(np.int64), np.rint(travel).astype(np.int64)


def _staffing(span: Span, t: Ints) -> Floats:
    """Call-takers on the floor relative to plan: a crunch 11-16 months back, half recovered."""
    months_back = (span.snapshot_s - t) / (MONTH_DAYS * DAY)
    back = [0.0, 3.0, 7.0, 10.0, 11.5, 15.0, 16.5, 1e9]
    level = [0.8, 0.8, 0.78, 0.76, 0.73, 0.73, 1.0, 1.0]
    return np.interp(months_back, back, level)


def _holiday_boost(t: Ints) -> Floats:
    """Fireworks and parties: July 4th evening and New Year's night are busy."""
    day = t.astype("M8[s]").astype("M8[D]")
    month_day = (day - day.astype("M8[M]")).astype(np.int64) + 1
    month, hod = month_of(t) % 12, (t // HOUR) % 24
    july4 = (month == 6) & (month_day == 4) & (hod >= 18)
    new_year = (month == 0) & (month_day == 1) & (hod < 4)
    return np.where(july4 | new_year, 1.6, 1.0)


# --- 311 service requests --------------------------------------------------------------


def service_requests(span: Span, rng: np.random.Generator) -> pa.Table:
    """311 requests with their due date (the type's SLA) and closure as of the extract."""
    names, kinds = list(REQUEST_TYPES), list(REQUEST_TYPES.values())
    rate = np.array([k.per_day for k in kinds])
    season = np.stack([SEASONS[k.season] for k in kinds], axis=1)
    weekday = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.6, 0.55])
    day, rtype = daily_events(span, rng, rate, season, weekday)
    n = len(day)
    hod_weight = np.repeat([0.2, 1.6, 0.7], [7, 10, 7])
    created = day * DAY + rng.choice(24, n, p=hod_weight / hod_weight.sum()) * HOUR
    created += rng.integers(0, HOUR, n)
    order = np.argsort(created, kind="stable")
    created, rtype = created[order], rtype[order]
    month = month_of(created)
    departments = sorted({k.department for k in kinds})
    dept = np.array([departments.index(k.department) for k in kinds])[rtype]
    sla = np.array([k.sla_days for k in kinds])[rtype]
    district = rng.choice(len(DISTRICTS), n, p=DISTRICT_SHARE)
    months_in = month - month[0]
    app = np.linspace(0.18, 0.38, int(months_in[-1]) + 1)[:, None]  # the app catches on
    channel_p = np.hstack([0.55 - app, app, np.full_like(app, 0.3), np.full_like(app, 0.1),
                           np.full_like(app, 0.05)])  # fmt: skip
    channel = categorical(rng, channel_p, months_in)

    # Work time as a share of the SLA, stretched by each department's workload: the spring
    # pothole surge in public works, a hauling-contract changeover in sanitation's last
    # eight months, code inspectors stretched throughout.
    median = np.array([k.median_share_of_sla for k in kinds])[rtype]
    spread = np.array([k.spread for k in kinds])[rtype]
    months_back = months_in[-1] - months_in
    stress = np.select(
        [dept == departments.index("public-works"), dept == departments.index("sanitation")],
        [np.where(np.isin(month % 12, [1, 2, 3]), 0.2, 0.0), np.where(months_back < 8, 0.55, 0.05)],
        0.24,
    )
    work_days = sla * median * np.exp(stress + spread * rng.standard_normal(n))
    finish_day = (created + np.rint(work_days * DAY).astype(np.int64)) // DAY
    # Crews close tickets in working hours.
    closed = np.maximum(finish_day * DAY + rng.integers(7 * HOUR, 18 * HOUR, n), created + 1800)
    due = created + sla * DAY
    still_open = closed >= span.snapshot_s
    year = year_of(created)
    return pa.table({
        "request_id": ids("SR", year, 6),
        "request_type": labels(names, rtype),
        "department": labels(departments, dept),
        "district": labels(DISTRICTS, district),
        "channel": labels(CHANNELS_311, channel),
        "created_at": timestamps(created),
        "due_at": timestamps(due),
        "closed_at": timestamps(closed, still_open),
        # Known once closed or once overdue; unknown while open and not yet due.
        "closed_on_time": pa.array(closed <= due, mask=still_open & (due >= span.snapshot_s)),
    })  # fmt: skip


# --- building permits ------------------------------------------------------------------


def permits(span: Span, rng: np.random.Generator) -> pa.Table:
    """Building permits: application, issue after review (null while pending), valuation."""
    names, kinds = list(PERMIT_TYPES), list(PERMIT_TYPES.values())
    month_weight = np.array([0.7, 0.8, 1.1, 1.3, 1.3, 1.2, 1.1, 1.1, 1.0, 0.95, 0.8, 0.65])
    season = np.tile(month_weight[:, None], (1, len(kinds)))
    weekday = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.08, 0.04])  # the portal is open on weekends
    day, ptype = daily_events(span, rng, np.array([k.per_weekday for k in kinds]), season, weekday)
    n = len(day)
    applied = day * DAY + rng.integers(7 * HOUR, 18 * HOUR, n)
    order = np.argsort(applied, kind="stable")
    applied, ptype, day = applied[order], ptype[order], day[order]
    ward_weights = np.tile([0.2, 0.18, 0.17, 0.16, 0.15, 0.14], (len(kinds), 1))
    ward_weights[names.index("New Single Family")] = [0.05, 0.07, 0.1, 0.18, 0.28, 0.32]
    ward = categorical(rng, ward_weights, ptype)
    classes = np.array([[k.work_classes.get(c, 0.0) for c in WORK_CLASSES] for k in kinds])
    work_class = categorical(rng, classes, ptype)

    # Plan review slows in the spring rush and while two reviewer posts sat empty
    # (10 to 5 months back); over-the-counter trade permits are barely affected.
    months_back = (span.snapshot_s - applied) / (MONTH_DAYS * DAY)
    backlog = np.interp(months_back, [0, 4, 5, 10, 11, 1e9], [1.0, 1.0, 1.45, 1.45, 1.0, 1.0])
    backlog *= np.where(np.isin(month_of(applied) % 12, [3, 4, 5]), 1.12, 1.0)
    plan_review = np.array([k.plan_review for k in kinds])[ptype]
    median = np.array([k.review_days for k in kinds])[ptype] * np.where(plan_review, backlog, 1.0)
    review = rng.lognormal(np.log(median), np.array([k.spread for k in kinds])[ptype])
    issue_day = day + np.floor(review).astype(np.int64)
    issue_day += np.select([weekday_of(issue_day) == 5, weekday_of(issue_day) == 6], [2, 1], 0)
    issued = np.maximum(issue_day * DAY + rng.integers(8 * HOUR, 17 * HOUR, n), applied + 900)
    pending = (issued >= span.snapshot_s) | (rng.random(n) < 0.02)  # in review, or withdrawn
    value_median = np.array([k.valuation for k in kinds])[ptype]
    value_spread = np.array([k.valuation_spread for k in kinds])[ptype]
    valuation = rng.lognormal(np.log(value_median), value_spread)
    prefix = pa.array(np.array([k.prefix for k in kinds])[ptype])
    return pa.table({
        "permit_id": pc.binary_join_element_wise(prefix, ids("", year_of(applied), 5), ""),
        "permit_type": labels(names, ptype),
        "work_class": labels(WORK_CLASSES, work_class),
        "ward": labels(WARDS, ward),
        "applied_at": timestamps(applied),
        "issued_at": timestamps(issued, pending),
        "valuation": pa.array(np.maximum(np.round(valuation, -1), 100.0)),
        "review_days": pa.array((issued // DAY - applied // DAY).astype(np.int32), mask=pending),
    })  # fmt: skip
