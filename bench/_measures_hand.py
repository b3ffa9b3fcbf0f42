"""bench/measures' hand-written DuckDB SQL for the example plan's KPIs: what CivicStat's
observations are checked against, period by period and slice by slice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

MONTH = "date_trunc('month', created_at)::DATE"
QUARTER = "date_trunc('quarter', created_at)::DATE"
# Fiscal years start in July in the example workspace.
FISCAL_QUARTER = "(date_trunc('quarter', created_at - INTERVAL 6 MONTH) + INTERVAL 6 MONTH)::DATE"
FISCAL_YEAR = "(date_trunc('year', created_at - INTERVAL 6 MONTH) + INTERVAL 6 MONTH)::DATE"
ON_TIME = "closed_at IS NOT NULL AND closed_at <= due_at"


def by(
    period: str,
    value: str,
    where: str = "TRUE",
    dim: str | None = None,
    *,
    num: str = "NULL",
    den: str = "NULL",
    n: str = "count(*)",
) -> str:
    """The total and, with ``dim``, each breakdown value: (period, dim, value, v, num, den,
    n), as an observation stores them."""
    parts = f"{value} AS v, {num} AS num, {den} AS den, {n} AS n"
    total = f"SELECT {period} AS p, '' AS dim, NULL AS dv, {parts} FROM r WHERE {where} GROUP BY 1"
    if dim is None:
        return total
    part = f"SELECT {period}, '{dim}', {dim}::VARCHAR, {parts} FROM r WHERE {where} GROUP BY 1, 3"
    return f"{total} UNION ALL {part}"


MET = f"count(*) FILTER (WHERE {ON_TIME})"
POTHOLES = "count(*) FILTER (WHERE request_type = 'pothole')"
CLOSED = "count(closed_at)"  # rows with a duration: still open ones have none
HAND: dict[str, str] = {
    "pct-requests-closed-on-time": by(
        MONTH, f"{MET} * 100.0 / count(*)", dim="district", num=MET, den="count(*)"
    ),
    "pct-potholes-repaired-on-time": by(
        MONTH,
        f"{MET} * 100.0 / count(*)",
        "request_type = 'pothole'",
        "district",
        num=MET,
        den="count(*)",
    ),
    "requests-received": by(MONTH, "count(*)", dim="district"),
    "potholes-reported": by(MONTH, "count(*)", "request_type = 'pothole'", "district"),
    # A ratio of two measures: their values over each other; n is the smaller of their n.
    "pothole-share-of-requests": by(
        MONTH,
        f"{POTHOLES} * 100.0 / count(*)",
        "TRUE",
        "district",
        num=POTHOLES,
        den="count(*)",
        n=POTHOLES,
    ),
    "requests-not-closed-on-time": by(MONTH, f"100 - {MET} * 100.0 / count(*)", dim="district"),
    "median-days-to-close": by(
        MONTH,
        "median(date_diff('millisecond', created_at, closed_at) / 1000.0 / 86400)",
        dim="request_type",
        n=CLOSED,
    ),
    "p90-hours-to-close": by(
        QUARTER,
        "quantile_cont(date_diff('millisecond', created_at, closed_at) / 1000.0 / 3600, 0.9)",
        n=CLOSED,
    ),
    "business-days-to-close": f"""
        WITH d AS (
            SELECT r.*, c2.idx - c1.idx AS bd FROM r
            JOIN cal c1 ON c1.day = created_at::DATE
            JOIN cal c2 ON c2.day = closed_at::DATE
        )
        SELECT {FISCAL_QUARTER} AS p, '' AS dim, NULL AS dv, avg(bd) AS v, sum(bd) AS num,
               count(*) AS den, count(*) AS n
        FROM d GROUP BY 1
        UNION ALL
        SELECT {FISCAL_QUARTER}, 'department', department, avg(bd), sum(bd), count(*), count(*)
        FROM d GROUP BY 1, 3""",
    "open-requests": """
        WITH ends AS (
            SELECT m::DATE AS p, (m + INTERVAL 1 MONTH)::TIMESTAMP AS e
            FROM range(
                (SELECT date_trunc('month', min(created_at)) FROM r),
                (SELECT date_trunc('month', greatest(max(created_at), max(closed_at))) FROM r)
                    + INTERVAL 1 MONTH,
                INTERVAL 1 MONTH) t(m)
        ), o AS (
            SELECT p, district,
                   CASE WHEN date_diff('day', created_at::DATE, e::DATE) <= 7 THEN '0-7'
                        WHEN date_diff('day', created_at::DATE, e::DATE) <= 30 THEN '8-30'
                        ELSE 'over 30' END AS age
            FROM r JOIN ends ON created_at < e
                AND coalesce(closed_at, TIMESTAMP '9999-12-31') >= e
        )
        SELECT p, '' AS dim, NULL AS dv, count(*) AS v, NULL AS num, NULL AS den, count(*) AS n
        FROM o GROUP BY 1
        UNION ALL SELECT p, 'district', district, count(*), NULL, NULL, count(*)
        FROM o GROUP BY 1, 3
        UNION ALL SELECT p, 'age', age, count(*), NULL, NULL, count(*) FROM o GROUP BY 1, 3""",
    "requests-per-1000-residents": by(
        MONTH, "count(*) * 1000.0 / 48200", num="count(*)", den="48200"
    ),
    "requests-fiscal-ytd": f"""
        WITH m AS (
            SELECT {MONTH} AS p, {FISCAL_YEAR} AS fy, '' AS dim, NULL AS dv, count(*) AS n
            FROM r GROUP BY 1, 2
            UNION ALL
            SELECT {MONTH}, {FISCAL_YEAR}, 'district', district, count(*) FROM r GROUP BY 1, 2, 4
        )
        SELECT p, dim, dv, sum(n) OVER y AS v, NULL AS num, NULL AS den, sum(n) OVER y AS n
        FROM m WINDOW y AS (PARTITION BY fy, dim, dv ORDER BY p)""",
    "closed-on-time-rolling-3m": f"""
        SELECT p, '' AS dim, NULL AS dv, sum(met) OVER w * 100.0 / sum(n) OVER w AS v,
               sum(met) OVER w AS num, sum(n) OVER w AS den, sum(n) OVER w AS n
        FROM (SELECT {MONTH} AS p, {MET} AS met, count(*) AS n FROM r GROUP BY 1)
        WINDOW w AS (ORDER BY p RANGE BETWEEN INTERVAL 2 MONTH PRECEDING AND CURRENT ROW)""",
    "request-types": by(QUARTER, "count(DISTINCT request_type)", n="count(request_type)"),
}


def business_calendar(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> None:
    """``cal(day, idx)``: business days (Mon–Fri, not a US-IL holiday) before each day."""
    import holidays

    years = range(first.year, last.year + 1)
    closed = sorted(holidays.country_holidays("US", subdiv="IL", years=years))
    con.execute("CREATE OR REPLACE TEMP TABLE hol(day DATE)")
    con.executemany("INSERT INTO hol VALUES (?)", [(d,) for d in closed])
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cal AS
           SELECT d::DATE AS day,
                  coalesce(sum(CASE WHEN isodow(d) <= 5 AND d::DATE NOT IN (SELECT day FROM hol)
                                    THEN 1 ELSE 0 END)
                           OVER (ORDER BY d ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                      AS idx
           FROM range(TIMESTAMP '{first}', TIMESTAMP '{last}' + INTERVAL 1 DAY,
                      INTERVAL 1 DAY) t(d)"""
    )


# (value, numerator, denominator, n) by (period start, slice key), by measure.
Cell = tuple[float | None, float | None, float | None, int]
Results = dict[str, dict[tuple[str, str], Cell]]
FIELDS = ("value", "numerator", "denominator", "n")


def _float(x: Any) -> float | None:
    return None if x is None else float(x)


def run_hand(con: duckdb.DuckDBPyConnection) -> Results:
    out: Results = {}
    for measure_id, sql in HAND.items():
        rows = con.execute(sql).fetchall()
        out[measure_id] = {
            (str(p), f"{dim}={'(blank)' if dv is None else dv}" if dim else ""): (
                _float(v),
                _float(num),
                _float(den),
                int(n),
            )
            for p, dim, dv, v, num, den, n in rows
        }
    return out
