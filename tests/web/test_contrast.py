"""Colour contrast meets WCAG 2.1 AA: text 4.5:1, chart marks 3:1, status colours included.

Read from the stylesheet and the chart module themselves, so a colour changed in either
is checked here (axe checks the rendered pages in tests/web/browser)."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from civicstat.web import charts

CSS = (files("civicstat.web") / "static" / "civicstat.css").read_text(encoding="utf-8")
VARS = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", CSS))
PAGE = "#f6f8fa"  # body background
WHITE = "#ffffff"


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_is_computed_as_wcag_defines_it() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


STATUSES = [("on", "on-bg"), ("near", "near-bg"), ("off", "off-bg"), ("none", "none-bg")]


@pytest.mark.parametrize(("text", "background"), STATUSES)
def test_status_labels_are_legible_on_their_background(text: str, background: str) -> None:
    assert contrast(VARS[text], VARS[background]) >= 4.5


@pytest.mark.parametrize("name", ["ink", "muted", "accent", "on", "near", "off", "none"])
def test_text_colours_are_legible_on_the_page_and_on_cards(name: str) -> None:
    assert contrast(VARS[name], PAGE) >= 4.5
    assert contrast(VARS[name], WHITE) >= 4.5


def test_chart_text_and_marks_stand_out_from_the_chart_background() -> None:
    for text in (charts.INK, charts.MUTED, charts.TARGET):
        assert contrast(text, WHITE) >= 4.5, text
    assert contrast(charts.SIGNAL, WHITE) >= 3.0
    for fill in charts.BAND_FILL.values():  # marks drawn over the status bands
        assert contrast(charts.INK, fill) >= 4.5
        assert contrast(charts.TARGET, fill) >= 3.0
        assert contrast(charts.MUTED, fill) >= 4.5  # the UCL/LCL lines over a band
