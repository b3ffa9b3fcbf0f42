"""Landing a local file: a kernel copy whose SHA-256 is computed right behind it."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from civicstat.warehouse import storage
from civicstat.warehouse.storage import Lake


def test_a_file_copied_in_many_steps_is_kept_byte_for_byte_with_its_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "_COPY_STEP", 4096)
    source = tmp_path / "calls.csv"
    source.write_bytes(b"id,at\n" + b"".join(b"%d,2024-03-01 03:00\n" % i for i in range(20_000)))
    lake = Lake(tmp_path / "lake")

    landed = lake.land_file("calls", "calls.csv", "text/csv", source, when=dt.datetime.now(dt.UTC))
    (settled,) = lake.settle([landed])

    assert landed.sha256 == ""  # until settled
    assert settled.path.read_bytes() == source.read_bytes()
    assert settled.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert settled.size == source.stat().st_size


def test_an_empty_file_lands_with_the_hash_of_nothing(tmp_path: Path) -> None:
    source = tmp_path / "empty.csv"
    source.write_bytes(b"")
    lake = Lake(tmp_path / "lake")
    landed = lake.land_file("s", "empty.csv", "text/csv", source, when=dt.datetime.now(dt.UTC))
    (settled,) = lake.settle([landed])
    assert (settled.sha256, settled.size) == (hashlib.sha256(b"").hexdigest(), 0)
