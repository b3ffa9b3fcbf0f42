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
