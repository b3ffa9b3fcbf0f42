"""Each payload is held under the read limits before a parser sees it: every line longer
than the limit is found where it is (whatever the chunking, gzip or not), and the copy
the parsers read lacks exactly those lines; formats that expand are bounded too."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstat.spec.models import Column
from civicstat.warehouse import bounds, loader
from civicstat.warehouse.bounds import PayloadTooLarge, ReadLimits


def split_lines(data: bytes) -> list[tuple[int, int, int]]:
    """(number, start, end) of every line, the obvious way."""
    found, pos, number = [], 0, 1
    while pos < len(data):
        newline = data.find(b"\n", pos)
        end = len(data) if newline == -1 else newline
        found.append((number, pos, end))
        number, pos = number + 1, end + 1
    return found


@settings(max_examples=300, deadline=None)
@given(
    lengths=st.lists(st.sampled_from([0, 1, 2, 5, 9, 10, 11, 40, 100]), max_size=12),
    trailing_newline=st.booleans(),
    limit=st.sampled_from([0, 1, 3, 10, 40]),
    chunk=st.sampled_from([1, 2, 3, 7, 64, 4 << 20]),
    compressed=st.booleans(),
)
def test_every_long_line_is_found_and_only_those_are_left_out(
    tmp_path_factory: pytest.TempPathFactory,
    lengths: list[int],
    trailing_newline: bool,
    limit: int,
    chunk: int,
    compressed: bool,
) -> None:
    folder = tmp_path_factory.mktemp("scan")
    data = b"\n".join(bytes([97 + i % 26]) * n for i, n in enumerate(lengths))
    data += b"\n" if trailing_newline and data else b""
    payload, copy = folder / "payload", folder / "copy"
    payload.write_bytes(gzip.compress(data) if compressed else data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bounds, "_CHUNK", chunk)  # lines across chunk edges of every kind
        found = bounds.long_lines(payload, ReadLimits(max_line_bytes=limit), "payload", copy)

    expected = [line for line in split_lines(data) if line[2] - line[1] > limit]
    assert [(line.number, line.start, line.end) for line in found] == expected
    if not found:
        assert not copy.exists()
        return
    long = {number for number, _, _ in expected}
    kept = [(n, s, e) for n, s, e in split_lines(data) if n not in long]
    assert copy.read_bytes() == b"".join(data[s : e + 1] for _, s, e in kept)
    for index, (number, _, _) in enumerate(kept, start=1):
        assert bounds.original_line(index, found) == number


def test_a_gzip_payload_past_the_decompressed_bound_stops_there(tmp_path: Path) -> None:
    payload = tmp_path / "many.csv.gz"
    payload.write_bytes(gzip.compress(b"a,b\n" * (1 << 20)))  # 4 MiB of short lines

    with pytest.raises(PayloadTooLarge, match=r"more than 1,048,576 bytes"):
        bounds.long_lines(payload, ReadLimits(max_decompressed_bytes=1 << 20), "x", tmp_path / "c")


COLUMNS = [Column.model_validate({"name": "id", "type": "integer"})]


def pull(tmp_path: Path, path: Path, fmt: str, limits: ReadLimits) -> loader.Pulled:
    folder = tmp_path / "version"
    folder.mkdir()
    con = loader.connect()
    try:
        return loader.pull(
            con, [loader.Input(path, path.name, fmt)], COLUMNS, {}, folder, limits=limits
        )
    finally:
        con.close()


def test_an_ndjson_record_too_long_is_quarantined_with_its_line(tmp_path: Path) -> None:
    payload = tmp_path / "rows.ndjson"
    records = ['{"id": 1}', '{"id": 2, "blob": "' + "z" * 3000 + '"}', '{"id": "x"}', '{"id": 4}']
    payload.write_text("\n".join(records) + "\n")

    pulled = pull(tmp_path, payload, "ndjson", ReadLimits(max_line_bytes=1024))

    assert pulled.rows_good == 2
    assert [(row.line, row.reason.split(" is ")[0]) for row in pulled.bad_rows] == [
        (2, "line of 3,021 bytes"),
        (3, "column 'id': 'x'"),
    ]


def test_a_workbook_that_expands_past_the_bound_is_refused_unread(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["id"])
    workbook.save(book)
    with zipfile.ZipFile(book, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * (8 << 20))  # 8 MiB in ~8 KB

    with pytest.raises(loader.LoadError, match=r"book.xlsx: decompresses to more than"):
        pull(tmp_path, book, "xlsx", ReadLimits(max_decompressed_bytes=4 << 20))


def test_a_workbook_of_too_many_files_is_refused_unread(tmp_path: Path) -> None:
    book = tmp_path / "many.xlsx"
    openpyxl.Workbook().save(book)
    with zipfile.ZipFile(book, "a") as archive:
        for index in range(bounds.MAX_ARCHIVE_MEMBERS):
            archive.writestr(f"xl/media/{index}.bin", b"")

    with pytest.raises(loader.LoadError, match=r"many.xlsx: holds 10,0\d\d files, more than"):
        pull(tmp_path, book, "xlsx", ReadLimits())


def test_a_parquet_file_whose_row_groups_expand_past_the_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": pa.array(range(1 << 20), pa.int64())}), path)  # 8 MiB

    with pytest.raises(loader.LoadError, match=r"big.parquet: decompresses to more than"):
        pull(tmp_path, path, "parquet", ReadLimits(max_decompressed_bytes=4 << 20))
