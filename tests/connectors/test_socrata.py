"""The ``socrata`` connector against a local SODA 2 endpoint serving a real NYC 311 response."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_workspace import version_rows, workspace_with
from http_fault_server import (
    FaultServer,
    Reply,
    Seen,
    json_reply,
    local_context,
    payload_bytes,
    serving,
)
from pydantic import ValidationError

from civicstat.connectors.base import ConnectorError, Payload
from civicstat.connectors.socrata import (
    SocrataConnector,
    SocrataOptions,
    soql_mark,
    soql_string,
)
from civicstat.governance.actors import Actor
from civicstat.services import ingest as ingest_service

RESOURCE = "/resource/fhrw-4uyv.json"
_CURSOR = re.compile(r"^(?:\((?P<user>.*)\) AND )?(?P<field>\w+) > '(?P<value>(?:[^']|'')*)'$")
_EQUALS = re.compile(r"^(?P<field>\w+) = '(?P<value>(?:[^']|'')*)'$")


def later(value: str, mark: str) -> bool:
    """SoQL's ``>``: timestamps compare as instants, other values as text."""
    try:
        return dt.datetime.fromisoformat(value) > dt.datetime.fromisoformat(mark)
    except ValueError:
        return value > mark


def soda(records: list[dict[str, Any]]) -> Any:
    """A SODA 2 resource: understands the $where, $order, $limit and $offset this test sends."""

    def api(seen: Seen) -> Reply:
        rows = list(enumerate(records))
        where = seen.query.get("$where", "")
        if match := _CURSOR.match(where):
            mark = match["value"].replace("''", "'")
            rows = [(i, r) for i, r in rows if later(r.get(match["field"], ""), mark)]
            where = match["user"] or ""
        if match := _EQUALS.match(where):
            rows = [(i, r) for i, r in rows if r.get(match["field"]) == match["value"]]
        elif where:
            return json_reply({"message": f"cannot parse {where}", "error": True}, status=400)
        for field in reversed(seen.query["$order"].split(",")):
            rows.sort(key=lambda row: row[0] if field == ":id" else row[1].get(field, ""))
        offset, limit = int(seen.query["$offset"]), int(seen.query["$limit"])
        page = [r for _, r in rows[offset : offset + limit]]
        body = ("[" + "\n,".join(json.dumps(r) for r in page) + "]\n").encode()
        return Reply(200, body, {"Content-Type": "application/json;charset=utf-8"})

    return api


@pytest.fixture(scope="module")
def records(shared_data: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        (shared_data / "nyc-311" / "fhrw-4uyv.json").read_text()
    )
    return rows


@pytest.fixture
def portal(records: list[dict[str, Any]]) -> Iterator[FaultServer]:
    with serving(soda(records)) as server:
        yield server


def socrata(tmp_path: Path, server: FaultServer, **changes: Any) -> SocrataConnector:
    options: dict[str, Any] = {"url": server.url(RESOURCE), "page_size": 300}
    context = local_context(tmp_path, **changes.pop("context", {}))
    made = SocrataConnector(SocrataOptions.model_validate(options | changes), context)
    made.sleep = lambda seconds: None
    return made


def rows_of(payloads: list[Payload]) -> list[dict[str, Any]]:
    return [row for p in payloads for row in json.loads(payload_bytes(p))]


def test_every_record_arrives_exactly_once_in_pages(
    tmp_path: Path, portal: FaultServer, records: list[dict[str, Any]]
) -> None:
    payloads = list(socrata(tmp_path, portal).fetch())
    assert [p.name for p in payloads] == [f"page-000{n}.json" for n in (1, 2, 3, 4)]
    assert {(p.format, p.content_type) for p in payloads} == {
        ("json", "application/json;charset=utf-8")
    }
    assert payloads[0].read_options == {"json": {"records": ""}}
    keys = [row["unique_key"] for row in rows_of(payloads)]
    assert sorted(keys) == sorted(r["unique_key"] for r in records)
    assert len(set(keys)) == 1000
    assert [
        (s.query["$offset"], s.query["$limit"], s.query["$order"]) for s in portal.requests
    ] == [
        ("0", "300", ":id"),
        ("300", "300", ":id"),
        ("600", "300", ":id"),
        ("900", "300", ":id"),
    ]


def test_pages_are_the_bytes_the_portal_sent(tmp_path: Path, portal: FaultServer) -> None:
    payloads = list(socrata(tmp_path, portal).fetch())
    assert payload_bytes(payloads[3]) == soda_page(portal, 3)


def soda_page(server: FaultServer, index: int) -> bytes:
    return server.handler(server.requests[index]).body


def test_the_app_token_is_sent_from_the_environment(tmp_path: Path, portal: FaultServer) -> None:
    context = {"env": {"NYC_APP_TOKEN": "app-t0ken"}}
    list(socrata(tmp_path, portal, app_token_env="NYC_APP_TOKEN", context=context).fetch())
    assert {s.headers["x-app-token"] for s in portal.requests} == {"app-t0ken"}


def test_a_missing_app_token_variable_is_a_clear_error(tmp_path: Path, portal: FaultServer) -> None:
    with pytest.raises(ConnectorError, match="NYC_APP_TOKEN is not set"):
        list(socrata(tmp_path, portal, app_token_env="NYC_APP_TOKEN").fetch())
    assert portal.requests == []


def test_an_incremental_pull_asks_only_for_rows_past_the_high_water_mark(
    tmp_path: Path, portal: FaultServer, records: list[dict[str, Any]]
) -> None:
    mark = "2012-11-20 00:00:00"
    context = {"cursor": "created_date", "high_water_mark": mark}
    rows = rows_of(list(socrata(tmp_path, portal, context=context).fetch()))
    expected = [r for r in records if later(r["created_date"], "2012-11-20T00:00:00")]
    assert len(rows) == len(expected) == 498
    assert {r["unique_key"] for r in rows} == {r["unique_key"] for r in expected}
    assert [r["created_date"] for r in rows] == sorted(r["created_date"] for r in rows)
    first = portal.requests[0].query
    assert first["$where"] == "created_date > '2012-11-20T00:00:00'"
    assert first["$order"] == "created_date,:id"


def test_the_cursor_filter_is_anded_with_the_spec_filter(
    tmp_path: Path, portal: FaultServer, records: list[dict[str, Any]]
) -> None:
    context = {"cursor": "created_date", "high_water_mark": "2012-11-20T00:00:00.000"}
    connector = socrata(tmp_path, portal, where="agency = 'NYPD'", context=context)
    rows = rows_of(list(connector.fetch()))
    assert portal.requests[0].query["$where"] == (
        "(agency = 'NYPD') AND created_date > '2012-11-20T00:00:00.000'"
    )
    assert rows
    assert {r["agency"] for r in rows} == {"NYPD"}
    assert len(rows) == sum(
        1 for r in records if r["agency"] == "NYPD" and later(r["created_date"], "2012-11-20")
    )


def test_a_first_incremental_pull_reads_everything_in_cursor_order(
    tmp_path: Path, portal: FaultServer
) -> None:
    rows = rows_of(list(socrata(tmp_path, portal, context={"cursor": "created_date"}).fetch()))
    assert len(rows) == 1000
    assert "$where" not in portal.requests[0].query


def test_a_quote_in_the_high_water_mark_cannot_break_out_of_the_string(
    tmp_path: Path, portal: FaultServer
) -> None:
    context = {"cursor": "street_name", "high_water_mark": "O'BRIEN' OR 1=1 OR 'x"}
    list(socrata(tmp_path, portal, context=context).fetch())
    assert portal.requests[0].query["$where"] == "street_name > 'O''BRIEN'' OR 1=1 OR ''x'"


def test_select_and_order_are_passed_on(tmp_path: Path, portal: FaultServer) -> None:
    connector = socrata(tmp_path, portal, select="unique_key, agency", order="unique_key DESC")
    assert connector.query() == {"$select": "unique_key, agency", "$order": "unique_key DESC"}


def test_a_server_error_mid_pull_loses_and_repeats_nothing(
    tmp_path: Path, portal: FaultServer
) -> None:
    pages = socrata(tmp_path, portal).fetch()
    first = next(pages)
    portal.inject(Reply(503), Reply(200, b'[{"unique_key": "1"', cut_after=12))
    keys = [row["unique_key"] for row in rows_of([first, *pages])]
    assert len(keys) == len(set(keys)) == 1000


def test_a_soql_error_is_reported_with_the_portals_message(
    tmp_path: Path, portal: FaultServer
) -> None:
    with pytest.raises(ConnectorError, match=r"HTTP 400 Bad Request.*cannot parse \(nonsense\)"):
        list(socrata(tmp_path, portal, where="nonsense").fetch())
    assert len(portal.requests) == 1


def test_truncated_json_from_the_portal_is_reported(tmp_path: Path, portal: FaultServer) -> None:
    portal.inject(Reply(200, b'[{"unique_key": "244453'))
    with pytest.raises(
        ConnectorError, match=r"page 1 from http://127\.0\.0\.1:\d+/resource/.*not valid JSON"
    ):
        list(socrata(tmp_path, portal).fetch())


def test_a_portal_that_ignores_the_offset_is_caught(tmp_path: Path, records: Any) -> None:
    def stuck(seen: Seen) -> Reply:
        return json_reply(records[:300])

    with serving(stuck) as server, pytest.raises(ConnectorError, match="identical to page 1"):
        list(socrata(tmp_path, server).fetch())


# --- options and SoQL -------------------------------------------------------------------


def test_domain_and_dataset_make_the_resource_url() -> None:
    options = SocrataOptions(domain="data.cityofnewyork.us", dataset="erm2-nwe9")
    assert options.resource_url == "https://data.cityofnewyork.us/resource/erm2-nwe9.json"
    assert options.page_size == 50_000


@pytest.mark.parametrize(
    "options",
    [
        {"domain": "data.cityofnewyork.us"},
        {"domain": "data.cityofnewyork.us", "dataset": "erm2-nwe9", "url": "https://x/y.json"},
        {"domain": "data.cityofnewyork.us", "dataset": "ERM2_NWE9"},
        {"url": "https://x/y.json", "page_size": 50_001},
        {"url": "https://x/y.json", "app_token": "s3cret"},
    ],
)
def test_bad_socrata_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SocrataOptions.model_validate(options)


@pytest.mark.parametrize(
    ("mark", "soql"),
    [
        ("2012-11-20 07:50:59", "2012-11-20T07:50:59"),
        ("2012-11-20 07:50:59.123456", "2012-11-20T07:50:59.123"),
        ("2012-11-20T07:50:59.000", "2012-11-20T07:50:59.000"),
        ("24445308", "24445308"),
        ("O'Brien", "O'Brien"),
    ],
)
def test_high_water_marks_are_written_as_soql_compares_them(mark: str, soql: str) -> None:
    assert soql_mark(mark) == soql


def test_soql_strings_double_their_quotes() -> None:
    assert soql_string("it's") == "'it''s'"


def test_a_cursor_that_is_not_a_field_name_is_refused(tmp_path: Path, portal: FaultServer) -> None:
    context = {"cursor": "x; drop", "high_water_mark": "1"}
    with pytest.raises(ConnectorError, match="not a Socrata field name"):
        socrata(tmp_path, portal, context=context).query()


# --- end to end -------------------------------------------------------------------------


def test_an_incremental_socrata_source_loads_only_new_rows_on_each_run(
    tmp_path: Path, records: list[dict[str, Any]], admin: Actor
) -> None:
    served = list(records)
    with serving(soda(served)) as server:
        source = {
            "id": "nyc311",
            "connector": "socrata",
            "options": {"url": server.url(RESOURCE), "page_size": 300},
            "load": {"mode": "incremental", "cursor": "created_date"},
            "columns": [
                {"name": "unique_key", "type": "string"},
                {"name": "created_date", "type": "timestamp"},
                {"name": "agency", "type": "string"},
                {"name": "latitude", "type": "float"},
            ],
        }
        with workspace_with(tmp_path / "ws", source, admin) as ctx:
            first = ingest_service.ingest(ctx, admin, "nyc311").result
            assert first.status == "succeeded"
            assert first.version is not None
            assert first.version.row_count == 1000
            assert len(first.raw_files) == 4

            again = ingest_service.ingest(ctx, admin, "nyc311").result
            assert again.status == "unchanged"
            assert server.requests[-1].query["$where"] == "created_date > '2012-11-21T02:18:06'"

            newer = {
                **records[0],
                "unique_key": "99000001",
                "created_date": "2012-11-22T08:00:00.000",
            }
            served.append(newer)
            third = ingest_service.ingest(ctx, admin, "nyc311").result
            assert third.status == "succeeded"
            assert third.version is not None
            assert third.version.row_count == 1001
            keys = [k for (k,) in version_rows(ctx, third.version, "unique_key")]
    assert sorted(keys) == sorted([r["unique_key"] for r in records] + ["99000001"])


def test_a_page_where_soda_omits_a_null_field_loads_it_as_null(
    tmp_path: Path, records: list[dict[str, Any]], admin: Actor
) -> None:
    served = [{k: v for k, v in r.items() if k != "closed_date"} for r in records[:300]]
    served += records[300:]
    with serving(soda(served)) as server:
        source = {
            "id": "nyc311",
            "connector": "socrata",
            "options": {"url": server.url(RESOURCE), "page_size": 300},
            "columns": [
                {"name": "unique_key", "type": "string"},
                {"name": "closed_date", "type": "timestamp"},
            ],
        }
        with workspace_with(tmp_path / "ws", source, admin) as ctx:
            result = ingest_service.ingest(ctx, admin, "nyc311").result
            assert result.version is not None
            assert result.version.row_count == 1000


def test_json_nested_past_the_parsers_recursion_is_reported(
    tmp_path: Path, portal: FaultServer
) -> None:
    portal.inject(Reply(200, b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(ConnectorError, match=r"page 1 from .*not valid JSON \(maximum recursion"):
        list(socrata(tmp_path, portal).fetch())
