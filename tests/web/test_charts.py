"""Charts are drawn on the server as SVG: well-formed, self-contained, with every text
escaped and a summary a screen reader can read."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstat.web.charts import (
    ChartPoint,
    Control,
    StatusBands,
    format_value,
    series_chart,
    sparkline,
    trend_label,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script> "onload=alert(2) x="'


def _months(values: list[float | None], target: float | None = 90.0) -> list[ChartPoint]:
    return [ChartPoint(f"2025-{i + 1:02d}", v, target) for i, v in enumerate(values)]


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it well-formed


def test_chart_says_what_it_shows_in_its_title_and_description() -> None:
    svg = series_chart(_months([88.0, 91.5, 86.0]), title="Calls answered in 10 s", unit="percent")

    root = _parse(svg)
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert title.text == "Calls answered in 10 s"
    assert desc.text is not None
    labelled_by = (root.get("aria-labelledby") or "").split()
    assert labelled_by == [title.get("id"), desc.get("id")]
    assert "3 periods from 2025-01 to 2025-03" in desc.text
    assert "Latest, 2025-03: 86.0% against a target of 90.0%" in desc.text
    assert "Lowest 86.0% in 2025-03; highest 91.5% in 2025-02" in desc.text


def test_every_text_in_a_chart_is_escaped() -> None:
    points = [ChartPoint(HOSTILE, 1.0, 2.0), ChartPoint("b", 3.0, 2.0)]

    svg = series_chart(points, title=HOSTILE, unit="count", chart_id=HOSTILE)
    line = sparkline([1.0, 2.0], label=HOSTILE)

    for drawn in (svg, line):
        root = _parse(drawn)
        assert "<script" not in drawn
        assert not [e for e in root.iter() if e.tag == f"{SVG}script"]
        assert all(not name.startswith("on") for e in root.iter() for name in e.attrib)
    assert HOSTILE in (_parse(svg).find(f"{SVG}title").text or "")  # type: ignore[union-attr]


def test_chart_draws_the_target_bands_and_control_limits() -> None:
    points = _months([80.0, 85.0, 92.0, 95.0])
    bands = StatusBands(higher_is_better=True, warning_band=5.0)
    control = Control(centre=88.0, lower=70.0, upper=106.0)

    root = _parse(series_chart(points, title="t", unit="percent", bands=bands, control=control))

    paths = {e.get("class"): e for e in root.iter(f"{SVG}path")}
    assert "series" in paths
    assert "target" in paths
    band_group = next(e for e in root.iter(f"{SVG}g") if e.get("class") == "bands")
    fills = {r.get("fill") for r in band_group.iter(f"{SVG}rect")}
    assert len(fills) == 3  # on, near and off target
    limits = [e for e in root.iter(f"{SVG}line") if e.get("class") == "control"]
    assert len(limits) == 3  # upper, centre, lower
    texts = {e.text for e in root.iter(f"{SVG}text")}
    assert {"UCL", "Mean", "LCL", "On target", "Near target", "Off target"} <= texts


def test_target_line_sits_at_the_target_value() -> None:
    root = _parse(series_chart(_months([50.0, 100.0], target=75.0), title="t"))

    target = next(e for e in root.iter(f"{SVG}path") if e.get("class") == "target")
    ys = {float(y) for y in re.findall(r"[ML][\d.]+,([\d.]+)", target.get("d") or "")}
    assert len(ys) == 1  # flat at 75, halfway between the data, on the same y
    series = next(e for e in root.iter(f"{SVG}path") if e.get("class") == "series")
    first, last = (float(y) for y in re.findall(r"[ML][\d.]+,([\d.]+)", series.get("d") or ""))
    assert ys.pop() == pytest.approx((first + last) / 2, abs=0.2)


def test_a_gap_in_the_data_is_a_gap_in_the_line() -> None:
    root = _parse(series_chart(_months([1.0, 2.0, None, 4.0, 5.0]), title="t"))

    series = next(e for e in root.iter(f"{SVG}path") if e.get("class") == "series")
    assert (series.get("d") or "").count("M") == 2


def test_a_running_period_is_drawn_hollow_and_said_in_progress() -> None:
    points = [ChartPoint("2025-01", 1.0), ChartPoint("2025-02", 2.0, partial=True)]

    svg = series_chart(points, title="t")

    circles = list(_parse(svg).iter(f"{SVG}circle"))
    assert circles[-1].get("fill") == "#ffffff"
    assert "Latest, 2025-02 (in progress)" in svg


def test_chart_without_data_says_so() -> None:
    svg = series_chart(_months([None, None]), title="Empty")

    assert "No data yet" in svg
    assert "Empty: no data yet." in svg
    _parse(svg)


def test_sparkline_has_a_label_and_marks_the_latest_value() -> None:
    labels = ["2025-01", "2025-02", "2025-03"]
    values: list[float | None] = [80.0, 85.5, 90.0]
    label = trend_label(labels, values, "percent")

    root = _parse(sparkline(values, label=label, targets=[85.0] * 3))

    assert label == ("Trend from 2025-01 to 2025-03: 80.0% to 90.0%, lowest 80.0%, highest 90.0%")
    assert root.get("aria-label") == label
    assert root.get("role") == "img"
    assert len(list(root.iter(f"{SVG}circle"))) == 1


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (85.24, "percent", "85.2%"),
        (1234.0, "count", "1,234"),
        (12500.4, "currency", "$12,500"),
        (3.45, "days", "3.5 days"),
        (2.0, "business_days", "2.0 business days"),
        (None, "count", "—"),
        (math.nan, "percent", "—"),
    ],
)
def test_values_are_written_as_people_read_them(value: float | None, unit: str, shown: str) -> None:
    assert format_value(value, unit) == shown


@given(
    st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False)), min_size=0, max_size=40),
    st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False)),
)
def test_any_series_gives_a_well_formed_chart(
    values: list[float | None], target: float | None
) -> None:
    points = _months(values, target)
    bands = StatusBands(higher_is_better=False, warning_band=1.0)

    root = _parse(series_chart(points, title="t", bands=bands))

    for element in root.iter():
        for name, text in element.attrib.items():
            assert "nan" not in text.lower() or name == "class", (name, text)
