"""CivicStat: performance management for the public sector."""

__version__ = "0.1.0"
