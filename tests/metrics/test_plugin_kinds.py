"""A third party's measure kinds, registered through entry points, compute as built-in ones
do: windows over periods, added up or read again from the rows."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.metrics.test_kinds import measure, run, values

from civicstat.metrics import kinds
from civicstat.spec import measure_kinds

DECLARED = """\
from civicstat.spec.measure_kinds import RowMeasureKind, ValueParams

class Maximum(RowMeasureKind):
    name = "maximum"
    Params = ValueParams
    computation = "civicstat_peaks.computed:Maximum"
    numeric_value = True

class Total(RowMeasureKind):
    name = "total"
    Params = ValueParams
    computation = "civicstat_peaks.computed:Total"
    numeric_value = True
    decomposable = True
"""

COMPUTED = """\
from civicstat.metrics.expressions import to_ibis
from civicstat.metrics.kinds import Aggregates, RowKind
from civicstat.spec.language import parse_value

from civicstat_peaks import Maximum as MaximumDeclared, Total as TotalDeclared

class Maximum(RowKind, MaximumDeclared):
    def aggregate(self, measure, rows):
        value = to_ibis(parse_value(self.params(measure).value), rows)
        return Aggregates(n=value.count(), value=value.max())

class Total(RowKind, TotalDeclared):
    def aggregate(self, measure, rows):
        value = to_ibis(parse_value(self.params(measure).value), rows)
        return Aggregates(n=value.count(), value=value.sum())
"""


@pytest.fixture
def peaks(tmp_path: Path) -> Iterator[None]:
    """The package ``civicstat-peaks``, installed on ``sys.path`` with its entry points."""
    site = tmp_path / "site"
    package = site / "civicstat_peaks"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(DECLARED)
    (package / "computed.py").write_text(COMPUTED)
    info = site / "civicstat_peaks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: civicstat-peaks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
        [civicstat.measure_kinds]
        maximum = civicstat_peaks:Maximum
        total = civicstat_peaks:Total
        """)
    )
    sys.path.insert(0, str(site))
    measure_kinds.available.cache_clear()
    kinds.available.cache_clear()
    yield
    sys.path.remove(str(site))
    for name in ("civicstat_peaks", "civicstat_peaks.computed"):
        sys.modules.pop(name, None)
    measure_kinds.available.cache_clear()
    kinds.available.cache_clear()


@pytest.mark.usefixtures("peaks")
def test_a_plugin_kind_is_declared_at_the_spec_level_and_computed_by_metrics() -> None:
    declared = measure_kinds.get("maximum")
    assert declared.from_rows
    assert declared.windowed
    assert declared.required == {"dataset", "time", "value"}
    assert isinstance(kinds.get("maximum"), kinds.RowKind)


@pytest.mark.usefixtures("peaks")
def test_a_plugin_kind_over_a_trailing_window_reads_every_row_of_the_window() -> None:
    plain = values(run(measure(kind="maximum", value="seconds")))
    assert plain == {("2026-01-01", ""): 3610.0, ("2026-02-01", ""): 60.0}
    rolling = values(run(measure(kind="maximum", value="seconds", window={"trailing": 2})))
    # February's two-month window holds January's 3610 seconds too.
    assert rolling == {("2026-01-01", ""): 3610.0, ("2026-02-01", ""): 3610.0}


@pytest.mark.usefixtures("peaks")
def test_a_decomposable_plugin_kind_adds_up_its_window_as_a_built_in_sum_does() -> None:
    for window in ({"trailing": 2}, {"to_date": "year"}):
        total = run(measure(kind="total", value="seconds", window=window, breakdowns=["district"]))
        built_in = run(measure(kind="sum", value="seconds", window=window, breakdowns=["district"]))
        assert total == built_in
        assert kinds.get("total").decomposes(measure(kind="total", value="seconds"))
