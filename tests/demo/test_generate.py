"""The demo data generator: reproducible, internally consistent, and shaped like a real city."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from civicstat.demo.generate import (
    CALL_TYPES,
    DISTRICTS,
    PERMIT_TYPES,
    REQUEST_TYPES,
    WARDS,
    Span,
    default_end,
    generate,
)

END = dt.date(2025, 5, 31)
SPAN = Span.ending(END, 3)
SNAPSHOT = pd.Timestamp(END + dt.timedelta(days=1))
CALLS = 200_000
ANSWERED_LINES = ("E-911", "Wireless")


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate(tmp_path_factory.mktemp("data"), seed=7, end=END, calls=CALLS)


@pytest.fixture(scope="module")
def calls(paths: dict[str, Path]) -> pd.DataFrame:
    return pq.read_table(paths["calls_911"]).to_pandas()


@pytest.fixture(scope="module")
def requests(paths: dict[str, Path]) -> pd.DataFrame:
    return pq.read_table(paths["service_requests"]).to_pandas()


@pytest.fixture(scope="module")
def permits(paths: dict[str, Path]) -> pd.DataFrame:
    return pq.read_table(paths["permits"]).to_pandas()


# --- reproducibility ------------------------------------------------------------------


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=11, end=END, calls=20_000)
    second = generate(tmp_path / "b", seed=11, end=END, calls=20_000)
    assert first.keys() == second.keys() == {"calls_911", "service_requests", "permits"}
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes(), name


def test_different_seed_gives_different_rows(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=11, end=END, calls=20_000)
    second = generate(tmp_path / "b", seed=12, end=END, calls=20_000)
    for name in first:
        assert not pq.read_table(first[name]).equals(pq.read_table(second[name])), name


def test_resizing_the_calls_leaves_other_datasets_unchanged(tmp_path: Path) -> None:
    small = generate(tmp_path / "a", seed=11, end=END, calls=10_000)
    large = generate(tmp_path / "b", seed=11, end=END, calls=30_000)
    assert small["permits"].read_bytes() == large["permits"].read_bytes()
    assert small["service_requests"].read_bytes() == large["service_requests"].read_bytes()


# sha256 of each dataset's columns before the personal columns were added (seed 7, END,
# 30,000 calls), as _digest reads them: adding columns must not move a single value.
BEFORE_PERSONAL_COLUMNS = {
    "calls_911": "bca4b7ec3bf10b8f058c5cb85e532944b408149423fd0427f781b2e90d659747",
    "service_requests": "8cf140c89531dac9a4f02f0818ffcbd506149debfe5dd6b432aa2ce03bdd7a1b",
    "permits": "f4d4c7dd41520e9bcf5ee032caba0a586bb665a3677d2a9c61852b7fbdbbd4c4",
}
PERSONAL_COLUMNS = {
    "calls_911": [],
    "service_requests": ["address", "reporter_name", "reporter_phone", "description"],
    "permits": ["applicant_name", "site_address", "contractor"],
}


def test_personal_columns_left_every_other_value_as_it_was(tmp_path: Path) -> None:
    for name, path in generate(tmp_path, seed=7, end=END, calls=30_000).items():
        table = pq.read_table(path)
        added = table.column_names[-len(PERSONAL_COLUMNS[name]) :] if PERSONAL_COLUMNS[name] else []
        assert added == PERSONAL_COLUMNS[name]
        kept = table.drop_columns(added)
        assert _digest(kept) == BEFORE_PERSONAL_COLUMNS[name], name


def _digest(table: pa.Table) -> str:
    found = hashlib.sha256()
    for name in table.column_names:
        column = table[name]
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        values = pc.fill_null(column.cast(pa.string()), "\x00").to_pylist()
        found.update(name.encode())
        found.update("\x1f".join(values).encode())
    return found.hexdigest()


def test_default_end_is_the_last_day_of_the_previous_month() -> None:
    assert default_end(dt.date(2026, 3, 15)) == dt.date(2026, 2, 28)
    assert default_end(dt.date(2025, 1, 1)) == dt.date(2024, 12, 31)


def test_span_is_whole_months_ending_on_end() -> None:
    assert SPAN.start == dt.date(2022, 6, 1)
    assert Span.ending(dt.date(2024, 12, 31), 1).start == dt.date(2024, 1, 1)


# --- 911 calls ------------------------------------------------------------------------


def test_calls_fill_the_span_in_order(calls: pd.DataFrame) -> None:
    assert len(calls) == CALLS
    assert calls.received_at.is_monotonic_increasing
    assert calls.received_at.min() >= pd.Timestamp(SPAN.start)
    assert calls.received_at.max() < SNAPSHOT


def test_call_ids_are_unique_and_carry_the_year(calls: pd.DataFrame) -> None:
    assert calls.call_id.is_unique
    assert calls.call_id.str.fullmatch(r"R\d{2}-\d{7}").all()
    assert (calls.call_id.str[1:3].astype(int) == calls.received_at.dt.year % 100).all()
    assert calls.call_id.iloc[0] == "R22-0000001"


def test_call_timestamps_never_run_backwards(calls: pd.DataFrame) -> None:
    assert (calls.received_at <= calls.answered_at).all()
    dispatched = calls.dropna(subset=["dispatched_at"])
    assert (dispatched.answered_at <= dispatched.dispatched_at).all()
    arrived = calls.dropna(subset=["arrived_at"])
    assert (arrived.dispatched_at <= arrived.arrived_at).all()


def test_durations_equal_the_timestamp_differences(calls: pd.DataFrame) -> None:
    answer = (calls.answered_at - calls.received_at).dt.total_seconds()
    assert (calls.answer_seconds == answer).all()
    response = (calls.arrived_at - calls.received_at).dt.total_seconds()
    assert calls.response_seconds.equals(response)


def test_about_one_call_in_twelve_gets_no_unit_on_scene(calls: pd.DataFrame) -> None:
    no_arrival = calls.arrived_at.isna()
    assert 0.06 < no_arrival.mean() < 0.11
    assert calls.response_seconds.isna().equals(no_arrival)
    # A call with no dispatch has no arrival either; the rest of the columns are complete.
    assert not (calls.dispatched_at.isna() & ~no_arrival).any()
    assert 0 < calls.dispatched_at.isna().sum() < no_arrival.sum()
    complete = calls.drop(columns=["dispatched_at", "arrived_at", "response_seconds"])
    assert not complete.isna().any().any()


def test_agency_and_priority_follow_the_call_type(calls: pd.DataFrame) -> None:
    by_type = calls.groupby("call_type")[["agency", "priority"]].agg(set)
    assert set(by_type.index) == set(CALL_TYPES)
    for name, row in by_type.iterrows():
        assert row.agency == {CALL_TYPES[str(name)].agency}
        assert row.priority == {CALL_TYPES[str(name)].priority}
    assert set(calls.district) == set(DISTRICTS)
    assert set(calls.channel) == {"E-911", "Wireless", "Text", "Admin line"}


def test_volume_has_night_troughs_afternoon_peaks_and_growth(calls: pd.DataFrame) -> None:
    by_hour = calls.received_at.dt.hour.value_counts()
    assert by_hour[4] < 0.35 * by_hour[17]
    assert by_hour.idxmax() in range(14, 20)
    assert by_hour.idxmin() in range(2, 7)
    first_year = (calls.received_at < pd.Timestamp("2023-06-01")).sum()
    last_year = (calls.received_at >= pd.Timestamp("2024-06-01")).sum()
    assert 1.02 < last_year / first_year < 1.12
    by_month = calls.groupby(calls.received_at.dt.month).size()
    assert by_month[7] > 1.1 * by_month[2]  # summer is busier (February is also short)


def test_ten_second_answer_share_is_believable_and_moves_by_month(calls: pd.DataFrame) -> None:
    lines = calls[calls.channel.isin(ANSWERED_LINES)]
    fast = lines.answer_seconds <= 10
    assert 0.85 < fast.mean() < 0.95
    monthly = fast.groupby(lines.received_at.dt.to_period("M")).mean()
    assert monthly.max() - monthly.min() > 0.05
    # The worst months fall in the staffing crunch, 11 to 16 months before the end.
    assert monthly.idxmin() in pd.period_range("2024-01", "2024-08", freq="M")
    assert monthly.iloc[:12].mean() > monthly.iloc[-4:].mean() + 0.02  # not recovered yet
    by_district = fast.groupby(lines.district).mean()
    assert by_district["Downtown"] - by_district["Harbor"] > 0.02
    assert (lines.answer_seconds <= 20).mean() > fast.mean() + 0.03


def test_answer_times_have_a_long_right_tail(calls: pd.DataFrame) -> None:
    seconds = calls.answer_seconds
    assert 3 <= seconds.median() <= 6
    assert seconds.quantile(0.99) > 30
    assert seconds.min() >= 1


def test_urgent_calls_get_help_fastest(calls: pd.DataFrame) -> None:
    minutes = calls.groupby("priority").response_seconds.median() / 60
    assert 6 <= minutes[1] <= 8
    assert minutes[1] < minutes[2] < minutes[3] < minutes[4]


# --- 311 service requests -------------------------------------------------------------


def test_request_volume_and_types(requests: pd.DataFrame) -> None:
    assert 150_000 <= len(requests) <= 250_000
    assert requests.request_id.is_unique
    assert requests.request_id.str.fullmatch(r"SR\d{2}-\d{6}").all()
    assert requests.created_at.is_monotonic_increasing
    assert set(requests.request_type) == set(REQUEST_TYPES)
    department = requests.request_type.map({k: v.department for k, v in REQUEST_TYPES.items()})
    assert (requests.department == department).all()


def test_due_date_is_creation_plus_the_types_sla(requests: pd.DataFrame) -> None:
    sla_days = requests.request_type.map({k: v.sla_days for k, v in REQUEST_TYPES.items()})
    assert ((requests.due_at - requests.created_at) == pd.to_timedelta(sla_days, unit="D")).all()


def test_closures_follow_creation_and_precede_the_extract(requests: pd.DataFrame) -> None:
    closed = requests.dropna(subset=["closed_at"])
    assert (closed.closed_at > closed.created_at).all()
    assert (closed.closed_at < SNAPSHOT).all()
    assert closed.closed_at.dt.hour.between(7, 17).mean() > 0.95  # crews work days


def test_open_backlog_is_concentrated_in_recent_months(requests: pd.DataFrame) -> None:
    still_open = requests[requests.closed_at.isna()]
    assert 0.002 < len(still_open) / len(requests) < 0.05
    recent = still_open.created_at >= pd.Timestamp("2025-04-01")
    assert recent.mean() > 0.8
    assert (~recent).sum() > 0  # and a few old ones nobody has closed


def test_closed_on_time_is_known_once_closed_or_overdue(requests: pd.DataFrame) -> None:
    closed = requests.closed_at.notna()
    overdue = requests.due_at < SNAPSHOT
    on_time = requests.closed_on_time
    assert on_time.isna().equals(~closed & ~overdue)
    decided = requests[on_time.notna()]
    expected = decided.closed_at.notna() & (decided.closed_at <= decided.due_at)
    assert (decided.closed_on_time.astype(bool) == expected).all()


def test_sanitation_slipped_after_the_contract_changeover(requests: pd.DataFrame) -> None:
    sanitation = requests[(requests.department == "sanitation") & requests.closed_at.notna()]
    on_time = sanitation.closed_at <= sanitation.due_at
    before = on_time[sanitation.closed_at < pd.Timestamp("2024-06-01")].mean()
    after = on_time[sanitation.closed_at >= pd.Timestamp("2025-01-01")].mean()
    assert before > 0.8
    assert after < before - 0.15


# --- building permits -----------------------------------------------------------------


def test_requests_carry_a_reporter_a_phone_an_address_and_what_they_wrote(
    requests: pd.DataFrame,
) -> None:
    assert requests.address.str.fullmatch(
        r"[1-8]?\d{3} [A-Za-z0-9 ]+( St| Ave| Blvd| Ln| Rd| Dr"
        r"| Way| Sq| Pkwy| Pl| Ct| Run)(, Apt \d+)?"
    ).all()
    assert 0.02 < requests.address.str.contains(", Apt ").mean() < 0.1
    anonymous = requests.reporter_name.isna()
    assert 0.1 < anonymous.mean() < 0.3
    assert requests.reporter_phone[anonymous].isna().all()  # no name, no number
    phones = requests.reporter_phone.dropna()
    assert phones.str.fullmatch(r"\((540|804|434)\) 555-01\d\d").all()  # numbers for fiction
    assert requests.description.notna().all()
    # Free text holds what no form asks for: some descriptions repeat the address or phone.
    head = requests.head(5000)
    mentions = [
        a in d or (isinstance(p, str) and p in d)
        for a, p, d in zip(head.address, head.reporter_phone, head.description, strict=True)
    ]
    assert 0.2 < sum(mentions) / len(head) < 0.4


def test_permit_applicants_sites_and_contractors(permits: pd.DataFrame) -> None:
    assert permits.applicant_name.notna().all()
    assert permits.site_address.str.fullmatch(r"[1-8]?\d{3} .+").all()
    owner = permits.contractor == "Owner-builder"
    assert 0.03 < owner.mean() < 0.2
    assert set(permits.permit_type[owner]) <= {"Residential Alteration", "Residential Addition",
                                               "Sign"}  # fmt: skip
    trades = permits[permits.permit_type == "Electrical"].contractor
    assert set(trades) - {"Owner-builder"} <= {"Bright Line Electric", "Volt Masters LLC",
                                                "Riverton Electric Co"}  # fmt: skip


def test_permit_volume_ids_and_categories(permits: pd.DataFrame) -> None:
    assert 15_000 <= len(permits) <= 30_000
    assert permits.permit_id.is_unique
    assert permits.permit_id.str.fullmatch(r"(BLD|DEM|ELE|PLM|MEC|SGN)\d{2}-\d{5}").all()
    assert set(permits.permit_type) == set(PERMIT_TYPES)
    assert set(permits.ward) == set(WARDS)
    assert (permits.valuation >= 100).all()
    for name, classes in permits.groupby("permit_type").work_class.agg(set).items():
        assert classes <= set(PERMIT_TYPES[str(name)].work_classes), name


def test_review_days_count_calendar_days_to_issue(permits: pd.DataFrame) -> None:
    assert permits.issued_at.isna().equals(permits.review_days.isna())
    issued = permits.dropna(subset=["issued_at"])
    assert (issued.issued_at >= issued.applied_at).all()
    assert (issued.issued_at < SNAPSHOT).all()
    days = (issued.issued_at.dt.normalize() - issued.applied_at.dt.normalize()).dt.days
    assert (issued.review_days == days).all()
    assert (issued.issued_at.dt.day_of_week < 5).all()  # issued on working days


def test_pending_permits_are_mostly_recent(permits: pd.DataFrame) -> None:
    pending = permits[permits.issued_at.isna()]
    assert 0.01 < len(pending) / len(permits) < 0.1
    assert (pending.applied_at >= pd.Timestamp("2025-03-01")).mean() > 0.4


def test_plan_review_takes_longer_than_trade_permits(permits: pd.DataFrame) -> None:
    median = permits.groupby("permit_type").review_days.median()
    assert median["New Commercial"] > median["New Single Family"] > median["Electrical"]
    assert np.isclose(median["Electrical"], 0, atol=1)
