"""The benchmarks still run (on tiny inputs): a benchmark that rots measures nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_ingest_benchmark_reports_a_ratio_against_duckdb() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--rows", "20000", "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 20000
    assert report["rate_ratio"] > 0
    expected = report["duckdb_read_csv_seconds"] / report["civicstat_ingest_seconds"]
    assert report["rate_ratio"] == pytest.approx(expected, abs=0.01)
    assert report["civicstat_peak_mib"] > 0


@pytest.mark.slow
def test_measures_benchmark_matches_hand_sql_and_reports_ratios() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.measures", "--rows", "30000", "--append", "2000",
         "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["measures"] == 14
    assert report["results_match_hand_sql"], report["mismatches"]
    # Both times are rounded to milliseconds in the report; the ratio is of the raw times.
    assert report["full_ratio"] == pytest.approx(
        report["civicstat_seconds"] / report["hand_sql_seconds"], rel=0.1
    )
    assert report["refresh_seconds"] > 0
    assert report["peak_mib"] > 0


@pytest.mark.slow
def test_pages_benchmark_times_every_page_type_against_a_baseline() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.pages", "--calls", "20000", "--repeat", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"]["calls_911"] == 20000
    assert report["baseline"]["path"] == "/healthz"
    assert set(report["pages"]) == {
        "overview", "plan", "goal", "departments", "department", "measure",
        "measure_slice", "measure_csv", "runs", "audit",
    }  # fmt: skip
    for page in report["pages"].values():
        assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"]
        assert page["p95_over_baseline_ms"] == pytest.approx(
            page["p95_ms"] - report["baseline"]["p95_ms"], abs=0.11
        )
    assert report["all_under_target"] == all(
        p["p95_ms"] < report["target_p95_ms"] for p in report["pages"].values()
    )
