"""The ``http`` connector against a local API: every pagination style, auth, faults."""

from __future__ import annotations

import json
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
from civicstat.connectors.http import HttpConnector, HttpOptions
from civicstat.governance.actors import Actor
from civicstat.services import ingest as ingest_service

RECORDS = [{"id": n, "permit": f"B-{n:04d}", "value": n * 10.5} for n in range(1, 251)]


def connector(tmp_path: Path, slept: list[float] | None = None, **options: Any) -> HttpConnector:
    made = HttpConnector(HttpOptions.model_validate(options), local_context(tmp_path))
    made.sleep = (slept if slept is not None else []).append
    return made


def records_in(payloads: list[Payload], path: str = "data") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for payload in payloads:
        document: Any = json.loads(payload_bytes(payload))
        for part in path.split(".") if path else ():
            document = document[part]
        found += document
    return found


def offset_api(seen: Seen) -> Reply:
    offset, limit = int(seen.query["offset"]), int(seen.query["limit"])
    return json_reply({"data": RECORDS[offset : offset + limit], "total": len(RECORDS)})


@pytest.fixture
def offset_server() -> Iterator[FaultServer]:
    with serving(offset_api) as server:
        yield server


def test_offset_pages_arrive_once_each_as_received(
    tmp_path: Path, offset_server: FaultServer
) -> None:
    http = connector(
        tmp_path,
        url=offset_server.url("/api/permits"),
        params={"status": "issued"},
        records="data",
        pagination={"type": "offset", "page_size": 100},
    )
    payloads = list(http.fetch())
    assert [p.name for p in payloads] == ["page-0001.json", "page-0002.json", "page-0003.json"]
    assert {p.format for p in payloads} == {"json"}
    assert payloads[0].read_options == {"json": {"records": "data"}}
    assert payloads[0].content_type == "application/json"
    assert records_in(payloads) == RECORDS
    assert [(s.query["offset"], s.query["status"]) for s in offset_server.requests] == [
        ("0", "issued"),
        ("100", "issued"),
        ("200", "issued"),
    ]
    first = offset_api(offset_server.requests[0])
    assert payload_bytes(payloads[0]) == first.body


def test_page_numbers_run_until_an_empty_page(tmp_path: Path) -> None:
    def api(seen: Seen) -> Reply:
        page = int(seen.query["p"])
        return json_reply(RECORDS[(page - 1) * 100 : page * 100])

    with serving(api) as server:
        payloads = list(
            connector(
                tmp_path, url=server.url("/list"), pagination={"type": "page", "page_param": "p"}
            ).fetch()
        )
        assert [s.query["p"] for s in server.requests] == ["1", "2", "3", "4"]
    assert len(payloads) == 3
    assert records_in(payloads, "") == RECORDS


def test_a_short_page_ends_page_numbering_when_the_size_is_known(tmp_path: Path) -> None:
    def api(seen: Seen) -> Reply:
        page, size = int(seen.query["page"]), int(seen.query["per_page"])
        return json_reply(RECORDS[page * size : (page + 1) * size])

    pagination = {"type": "page", "start": 0, "size_param": "per_page", "page_size": 120}
    with serving(api) as server:
        http = connector(tmp_path, url=server.url("/list"), pagination=pagination)
        assert len(list(http.fetch())) == 3
        assert len(server.requests) == 3


def test_a_cursor_from_the_body_fetches_the_next_page(tmp_path: Path) -> None:
    def api(seen: Seen) -> Reply:
        start = int(seen.query.get("after", "0"))
        chunk = RECORDS[start : start + 100]
        following = str(start + 100) if start + 100 < len(RECORDS) else None
        return json_reply({"results": chunk, "meta": {"next": following}})

    with serving(api) as server:
        http = connector(
            tmp_path,
            url=server.url("/events"),
            records="results",
            pagination={"type": "cursor", "cursor_path": "meta.next", "cursor_param": "after"},
        )
        payloads = list(http.fetch())
        assert [s.query.get("after") for s in server.requests] == [None, "100", "200"]
    assert records_in(payloads, "results") == RECORDS


def test_a_next_link_in_the_body_is_followed(tmp_path: Path) -> None:
    def api(seen: Seen) -> Reply:
        start = int(seen.query.get("from", "0"))
        more = start + 100 < len(RECORDS)
        links = {"next": f"/v2/items?from={start + 100}"} if more else {}
        return json_reply({"items": RECORDS[start : start + 100], "links": links})

    with serving(api) as server:
        http = connector(
            tmp_path,
            url=server.url("/v2/items"),
            records="items",
            pagination={"type": "next_link", "next_path": "links.next"},
        )
        assert records_in(list(http.fetch()), "items") == RECORDS


def test_rfc8288_link_headers_are_followed(tmp_path: Path) -> None:
    def api(seen: Seen) -> Reply:
        page = int(seen.query.get("page", "1"))
        link = f'<{seen.path}?page={page + 1}>; rel="next", </x?page=1>; rel="first"'
        reply = json_reply(RECORDS[(page - 1) * 100 : page * 100])
        return Reply(reply.status, reply.body, reply.headers | ({"Link": link} if page < 3 else {}))

    with serving(api) as server:
        http = connector(tmp_path, url=server.url("/repos"), pagination={"type": "link_header"})
        assert records_in(list(http.fetch()), "") == RECORDS


def test_csv_pages_are_landed_as_csv_with_the_dialect(tmp_path: Path) -> None:
    rows = [f"{r['id']};{r['permit']}" for r in RECORDS]

    def api(seen: Seen) -> Reply:
        offset, limit = int(seen.query["offset"]), int(seen.query["limit"])
        body = "\n".join(["id;permit", *rows[offset : offset + limit]]) + "\n"
        return Reply(200, body.encode(), {"Content-Type": "text/csv; charset=utf-8"})

    with serving(api) as server:
        http = connector(
            tmp_path,
            url=server.url("/export.csv"),
            format="csv",
            csv={"delimiter": ";"},
            pagination={"type": "offset", "page_size": 100},
        )
        payloads = list(http.fetch())
    assert [p.name for p in payloads] == ["page-0001.csv", "page-0002.csv", "page-0003.csv"]
    assert {p.format for p in payloads} == {"csv"}
    assert payloads[0].content_type == "text/csv; charset=utf-8"
    assert http.read_options()["csv"]["delimiter"] == ";"
    assert payloads[2].read_options["csv"]["delimiter"] == ";"
    assert payload_bytes(payloads[2]).decode().count("\n") == 51


def test_an_empty_source_gives_no_payload(tmp_path: Path) -> None:
    """The pipeline records a pull without payloads as "unchanged": nothing is replaced."""
    with serving(lambda seen: json_reply({"data": []})) as server:
        http = connector(
            tmp_path, url=server.url("/x"), records="data", pagination={"type": "offset"}
        )
        payloads = list(http.fetch())
    assert payloads == []
    assert len(server.requests) == 1


# --- auth -------------------------------------------------------------------------------


def test_the_auth_header_comes_from_the_named_environment_variable(
    tmp_path: Path, offset_server: FaultServer
) -> None:
    options = HttpOptions(
        url=offset_server.url("/api"),
        auth_env="PERMITS_API_TOKEN",
        auth_scheme="Bearer",
        records="data",
    )
    context = local_context(tmp_path, env={"PERMITS_API_TOKEN": "s3cret"})
    offset_server.handler = lambda seen: json_reply({"data": []})
    list(HttpConnector(options, context).fetch())
    assert offset_server.requests[0].headers["authorization"] == "Bearer s3cret"


def test_an_api_key_header_can_be_named(tmp_path: Path, offset_server: FaultServer) -> None:
    options = HttpOptions(url=offset_server.url("/api"), auth_env="KEY", auth_header="X-Api-Key")
    offset_server.handler = lambda seen: json_reply([])
    list(HttpConnector(options, local_context(tmp_path, env={"KEY": "k"})).fetch())
    assert offset_server.requests[0].headers["x-api-key"] == "k"


def test_a_missing_secret_variable_fails_before_any_request(
    tmp_path: Path, offset_server: FaultServer
) -> None:
    options = HttpOptions(url=offset_server.url("/api"), auth_env="PERMITS_API_TOKEN")
    with pytest.raises(ConnectorError, match="PERMITS_API_TOKEN is not set"):
        list(HttpConnector(options, local_context(tmp_path)).fetch())
    assert offset_server.requests == []


@pytest.mark.parametrize("header", ["Authorization", "x-api-key", "Cookie"])
def test_a_credential_written_in_the_spec_is_refused(header: str) -> None:
    with pytest.raises(ValidationError, match="auth_env"):
        HttpOptions(url="https://api.example.org/x", headers={header: "s3cret"})


CURSOR = {"type": "cursor", "cursor_path": "next"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ftp://example.org/x"}, "http:// or https://"),
        ({"url": "https://a.example/x", "verbose": True}, "Extra inputs"),
        ({"url": "https://a.example/x", "format": "csv", "pagination": CURSOR}, "needs JSON"),
        ({"url": "https://a.example/x", "body": {"q": 1}}, "POST"),
        ({"url": "https://a.example/x", "pagination": {"type": "pages"}}, "does not match any"),
    ],
)
def test_bad_options_are_refused_with_a_reason(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpOptions.model_validate(options)


def test_post_sends_the_json_body(tmp_path: Path, offset_server: FaultServer) -> None:
    offset_server.handler = lambda seen: json_reply([{"a": 1}])
    http = connector(tmp_path, url=offset_server.url("/search"), method="POST", body={"q": "x"})
    assert records_in(list(http.fetch()), "") == [{"a": 1}]
    assert offset_server.requests[0].method == "POST"


# --- faults -----------------------------------------------------------------------------


def paged(tmp_path: Path, server: FaultServer, **extra: Any) -> HttpConnector:
    return connector(
        tmp_path,
        url=server.url("/api/permits"),
        records="data",
        pagination={"type": "offset", "page_size": 100},
        **extra,
    )


def test_a_server_error_mid_pull_is_retried_and_no_page_is_landed_twice(
    tmp_path: Path, offset_server: FaultServer
) -> None:
    slept: list[float] = []
    http = paged(tmp_path, offset_server)
    http.sleep = slept.append
    pages = http.fetch()
    first = next(pages)
    offset_server.inject(Reply(500), Reply(429, headers={"Retry-After": "3"}))
    payloads = [first, *pages]
    assert records_in(payloads) == RECORDS
    assert len(slept) == 2
    assert slept[1] == 3.0
    assert 1.0 <= slept[0] <= 1.1


def test_truncated_json_names_the_page_and_the_url(
    tmp_path: Path, offset_server: FaultServer
) -> None:
    pages = paged(tmp_path, offset_server, params={"api_key": "k3y"}).fetch()
    next(pages)
    offset_server.inject(Reply(200, b'{"data": [{"id": 101, "perm'))
    with pytest.raises(ConnectorError) as caught:
        next(pages)
    message = str(caught.value)
    assert "page 2 from http://127.0.0.1:" in message
    assert "/api/permits?" in message
    assert "offset=100" in message
    assert "not valid JSON" in message
    assert "k3y" not in message


def test_a_body_cut_mid_stream_is_retried(tmp_path: Path, offset_server: FaultServer) -> None:
    pages = paged(tmp_path, offset_server).fetch()
    first = next(pages)
    whole = offset_api(Seen("GET", "/api/permits", {"offset": "100", "limit": "100"}, {}))
    offset_server.inject(Reply(200, whole.body, cut_after=len(whole.body) // 2))
    assert records_in([first, *pages]) == RECORDS


def test_an_api_that_repeats_a_page_fails_instead_of_looping(tmp_path: Path) -> None:
    with serving(lambda seen: json_reply({"data": RECORDS[:100]})) as server:
        with pytest.raises(ConnectorError, match=r"page 2 .* is identical to page 1"):
            list(paged(tmp_path, server).fetch())
        assert len(server.requests) == 2


def test_a_next_link_back_to_a_page_already_read_fails(tmp_path: Path) -> None:
    def api(seen: Seen) -> Reply:
        page = seen.query.get("page", "1")
        return json_reply({"items": [{"page": page}], "next": f"/feed?page={3 - int(page)}"})

    with serving(api) as server:
        http = connector(
            tmp_path,
            url=server.url("/feed?page=1"),
            records="items",
            pagination={"type": "next_link", "next_path": "next"},
        )
        with pytest.raises(ConnectorError, match="links back to a page already read"):
            list(http.fetch())
        assert len(server.requests) == 2


def test_more_pages_than_max_pages_fails_rather_than_cutting_the_data_short(
    tmp_path: Path, offset_server: FaultServer
) -> None:
    with pytest.raises(ConnectorError, match="more than max_pages=2 pages"):
        list(paged(tmp_path, offset_server, max_pages=2).fetch())
    assert len(offset_server.requests) == 2


def test_a_records_path_missing_from_a_page_is_reported(tmp_path: Path) -> None:
    with (
        serving(lambda seen: json_reply({"rows": []})) as server,
        pytest.raises(ConnectorError, match=r"has no 'data' \(records\)"),
    ):
        list(paged(tmp_path, server).fetch())


def test_pages_are_fetched_lazily(tmp_path: Path, offset_server: FaultServer) -> None:
    """The pipeline lands each page before the next is asked for, so memory holds one page."""
    pages = paged(tmp_path, offset_server).fetch()
    next(pages)
    assert len(offset_server.requests) == 1


# --- end to end -------------------------------------------------------------------------


def test_an_http_source_is_ingested_through_the_pipeline(
    tmp_path: Path, offset_server: FaultServer, admin: Actor
) -> None:
    source = {
        "id": "permits",
        "connector": "http",
        "options": {
            "url": offset_server.url("/api/permits"),
            "records": "data",
            "pagination": {"type": "offset", "page_size": 100},
        },
        "columns": [
            {"name": "id", "type": "integer"},
            {"name": "permit", "type": "string"},
            {"name": "value", "type": "float"},
        ],
    }
    with workspace_with(tmp_path / "ws", source, admin) as ctx:
        result = ingest_service.ingest(ctx, admin, "permits").result
        assert result.status == "succeeded"
        assert [f.original_name for f in result.raw_files] == [
            "page-0001.json",
            "page-0002.json",
            "page-0003.json",
        ]
        assert result.version is not None
        rows = version_rows(ctx, result.version, "id, permit, value")
    assert rows == [(r["id"], r["permit"], r["value"]) for r in RECORDS]


def test_json_nested_past_the_parsers_recursion_fails_the_page_not_the_process(
    tmp_path: Path, offset_server: FaultServer
) -> None:
    pages = paged(tmp_path, offset_server).fetch()
    next(pages)
    offset_server.inject(Reply(200, b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    with pytest.raises(ConnectorError, match=r"page 2 from .*not valid JSON \(maximum recursion"):
        next(pages)
