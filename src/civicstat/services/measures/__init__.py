"""Measures: computing them, and reading them (series, breakdown, lineage, the page)."""

from civicstat.services.measures.breakdown import Breakdown, SliceRow, SortKey, breakdown
from civicstat.services.measures.compute import (
    ComputeOutcome,
    compute,
    environment,
    refresh_from,
)
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
    "environment",
    "get_series",
    "history",
    "page",
    "refresh_from",
]
