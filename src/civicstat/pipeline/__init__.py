"""Pipelines: run a source end to end (fetch → land raw → load → publish a version)."""
