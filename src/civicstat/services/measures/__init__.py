"""Measures: computing them, and reading them (series, breakdown, lineage, the page)."""

from civicstat.services.measures.breakdown import Breakdown, SliceRow, SortKey, breakdown
from civicstat.services.measures.compute import ComputeOutcome, compute
from civicstat.services.measures.lineage import MeasureDescription, describe
from civicstat.services.measures.page import MeasurePage, page
from civicstat.services.measures.series import Series, Version, get_series, history

__all__ = [
    "Breakdown",
    "ComputeOutcome",
    "MeasureDescription",
    "MeasurePage",
    "Series",
    "SliceRow",
    "SortKey",
    "Version",
    "breakdown",
    "compute",
    "describe",
    "get_series",
    "history",
    "page",
]
