"""Whole public datasets as CSV, JSON and Parquet, streamed through the governed read."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
