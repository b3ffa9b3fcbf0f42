"""Measures' use cases: the door web, API and CLI go through to compute measures."""

from civicstat.services.measures.compute import ComputeOutcome, compute

__all__ = ["ComputeOutcome", "compute"]
