"""What a workspace may reach on the server that runs it, proved against real sockets,
real files and real databases.

A source spec is written by the city and reviewed in git; a changed one must still not
reach the server's own network, files, keys or metadata store. A listener on 127.0.0.1
counts every connection made to it: each route that once went around the SSRF guard
(fsspec URLs, s3 endpoints, database hosts, DuckDB) is shown never to connect without a
``network.allow`` entry. Local paths are confined to the workspace and the data roots;
spec-named variables are never CivicStat's own; a sql source never reads a metadata
store; and a run error quotes at most a bounded, escaped snippet of a payload.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url

from civicstat.connectors import _s3
from civicstat.connectors._guard import Guard, RefusedAddress
from civicstat.connectors.arcgis import ArcGISConnector, ArcGISOptions
from civicstat.connectors.base import ConnectorContext, ConnectorError
from civicstat.connectors.file import FileConnector, FileOptions
from civicstat.connectors.http import HttpConnector, HttpOptions
from civicstat.connectors.socrata import SocrataConnector, SocrataOptions
from civicstat.connectors.sql import SqlConnector, SqlOptions
from civicstat.excerpt import LIMIT
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import IngestRun, QuarantinedRow
from civicstat.pipeline.runner import IngestError
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import users as users_service
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.boundary import Boundary
from civicstat.spec.validate import validate_workspace
from civicstat.warehouse import loader

SECRET = "s3cr3t-KEY-that-must-never-leave-the-server-0123456789abcdef"


# --- a listener that counts every connection ---------------------------------------------


class Listener:
    """A TCP server on 127.0.0.1 that records every connection it accepts (and answers
    an HTTP 404 to whatever is sent): any protocol that reaches it is counted."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    data = conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    data = b""
                self.hits.append(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.close()


def context(root: Path, **changes: Any) -> ConnectorContext:
    values: dict[str, Any] = {"source_id": "src", "env": {}} | changes
    return ConnectorContext(root, **values)


def bypassing_validation(model: type[BaseModel], valid: dict[str, Any], **bad: Any) -> Any:
    """Options a spec could not validate, as an applied plan from before a rule (or a
    third-party caller) might still hold: the connector must refuse them itself."""
    return model.model_validate(valid).model_copy(update=bad)


# --- every outbound route passes the guard, or is refused -------------------------------

FSSPEC_ROUTES = [
    "http://127.0.0.1:{port}/export.csv",
    "https://127.0.0.1:{port}/export.csv",
    "HTTP://127.0.0.1:{port}/export.csv",
    "simplecache::http://127.0.0.1:{port}/export.csv",
    "filecache::s3://bucket/export.csv",
    "blockcache::http://127.0.0.1:{port}/export.csv",
    "zip://export.csv::http://127.0.0.1:{port}/exports.zip",
    "ftp://127.0.0.1:{port}/export.csv",
    "sftp://127.0.0.1:{port}/export.csv",
    "ssh://127.0.0.1:{port}/export.csv",
    "webdav://127.0.0.1:{port}/export.csv",
    "webhdfs://127.0.0.1:{port}/export.csv",
    "smb://127.0.0.1:{port}/share/export.csv",
    "github://city:exports@main/export.csv",
    "gcs://bucket/export.csv",
    "abfs://container/export.csv",
    "memory://export.csv",
    "file:///etc/passwd",
    "reference://export.csv",
]


@pytest.mark.parametrize("route", FSSPEC_ROUTES)
def test_a_file_source_never_hands_a_url_to_a_filesystem_the_guard_does_not_watch(
    route: str, listener: Listener, tmp_path: Path
) -> None:
    path = route.format(port=listener.port)
    with pytest.raises(ValidationError, match=r"path"):
        FileOptions.model_validate({"path": path})
    options = bypassing_validation(FileOptions, {"path": "data/x.csv"}, path=path)
    connector = FileConnector(options, context(tmp_path))
    with pytest.raises(ConnectorError, match=r"options\.path of source 'src'"):
        list(connector.fetch())
    assert listener.hits == []


def test_an_s3_endpoint_on_loopback_needs_a_network_allow_entry(
    listener: Listener, tmp_path: Path
) -> None:
    for host in ("127.0.0.1", "localhost"):
        options = FileOptions.model_validate(
            {
                "path": "s3://city-exports/*.csv",
                "storage_options": {"endpoint_url": f"http://{host}:{listener.port}"},
            }
        )
        with pytest.raises(RefusedAddress, match="loopback"):
            list(FileConnector(options, context(tmp_path)).fetch())
    assert listener.hits == []


def test_s3_connections_are_checked_when_they_are_made_not_only_before(
    listener: Listener,
) -> None:
    """A DNS answer that changes after the first check (rebinding) still cannot make
    s3fs connect to loopback: aiohttp resolves every host through the guard."""
    answers = iter([["93.184.216.34"]])  # public the first time, loopback ever after

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers, ["127.0.0.1"])

    guard = Guard((), rebinding)
    endpoint = f"http://minio.example.test:{listener.port}"
    fs = _s3.filesystem({"endpoint_url": endpoint}, guard, "test")
    with pytest.raises(Exception, match="loopback") as caught:
        fs.ls("city-exports")
    assert caught.value is not None
    assert listener.hits == []


def test_an_s3_source_never_signs_with_the_servers_own_aws_credentials(
    listener: Listener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVERSOWNKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    options = FileOptions.model_validate(
        {
            "path": "s3://city-exports/week.csv",
            "storage_options": {"endpoint_url": f"http://127.0.0.1:{listener.port}"},
        }
    )
    connector = FileConnector(options, context(tmp_path, allow=("127.0.0.1",)))
    with pytest.raises(ConnectorError):
        list(connector.fetch())
    assert listener.hits, "the allowed endpoint was asked"
    assert not any(b"AKIASERVERSOWNKEY" in hit for hit in listener.hits)
    assert not any(b"authorization:" in hit.lower() for hit in listener.hits)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://reader@127.0.0.1:{port}/erp",
        "postgresql://reader@localhost:{port}/erp",
        "mariadb://reader@127.0.0.1:{port}/erp",
        "mysql://reader@[::ffff:127.0.0.1]:{port}/erp",
    ],
)
def test_a_sql_source_reaches_an_internal_database_only_with_an_allow_entry(
    url: str, listener: Listener, tmp_path: Path
) -> None:
    env = {"ERP_URL": url.format(port=listener.port)}
    options = SqlOptions(url_env="ERP_URL", query="SELECT 1")
    with pytest.raises(RefusedAddress, match=r"network\.allow"):
        list(SqlConnector(options, context(tmp_path, env=env)).fetch())
    assert listener.hits == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://reader@/erp", "names no host"),
        ("postgresql://reader@/erp?host=/var/run/postgresql", "names no host"),
        ("postgresql://reader@db.example.org/erp?host=/var/run/postgresql", "option 'host'"),
        ("postgresql://reader@db.example.org/erp?hostaddr=127.0.0.1", "option 'hostaddr'"),
        ("mysql://reader@db.example.org/erp?unix_socket=/run/mysqld.sock", "option 'unix_socket'"),
        ("postgresql://reader@db.example.org/erp?service=metadata", "option 'service'"),
    ],
)
def test_a_sql_source_never_connects_through_a_local_socket_or_another_host(
    url: str, message: str, tmp_path: Path
) -> None:
    options = SqlOptions(url_env="ERP_URL", query="SELECT 1")
    connector = SqlConnector(options, context(tmp_path, env={"ERP_URL": url}, allow=("0.0.0.0/0",)))
    with pytest.raises(ConnectorError, match=message):
        list(connector.fetch())


def test_duckdb_in_the_loader_fetches_no_url_and_no_extension(listener: Listener) -> None:
    """DuckDB would download httpfs (a request of its own) and then fetch the URL."""
    con = loader.connect()
    try:
        for url in (f"http://127.0.0.1:{listener.port}/x.csv", "s3://bucket/x.csv"):
            with pytest.raises(Exception, match="httpfs") as caught:
                con.execute(f"SELECT * FROM read_csv('{url}')")  # noqa: S608 - the test's own URL
            assert "automatically install" not in str(caught.value)
    finally:
        con.close()
    assert listener.hits == []


# --- local files: the workspace and the data roots, nothing else ------------------------


@pytest.fixture
def city(tmp_path: Path) -> dict[str, Path]:
    """A workspace with data and state, a sibling workspace, and an exports folder."""
    root = tmp_path / "riverton"
    (root / "data").mkdir(parents=True)
    (root / "data" / "calls.csv").write_text("id,kind\n1,fire\n2,ems\n")
    (root / ".civicstat").mkdir()
    (root / ".civicstat" / "secret-key").write_text(SECRET)
    (root / ".env").write_text(f"CIVICSTAT_SECRET_KEY={SECRET}\n")
    (root / "lake" / "raw" / "restricted").mkdir(parents=True)
    (root / "lake" / "raw" / "restricted" / "cases.csv").write_text("id,name\n1,Jane Roe\n")
    other = tmp_path / "other-workspace"
    other.mkdir()
    (other / "x.csv").write_text("id,kind\n9,secret\n")
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "permits.csv").write_text("id,kind\n7,permit\n")
    return {"root": root, "other": other, "exports": exports}


def boundary(city: dict[str, Path], *roots: Path) -> Boundary:
    return Boundary.of(city["root"], roots, [city["root"] / "lake"])


def refused_at_fetch(city: dict[str, Path], path: str, *roots: Path) -> str:
    options = FileOptions.model_validate({"path": path})
    connector = FileConnector(options, context(city["root"], boundary=boundary(city, *roots)))
    with pytest.raises(ConnectorError) as caught:
        list(connector.fetch())
    message = str(caught.value)
    assert SECRET not in message
    return message


def link(at: Path, to: Path) -> Path:
    at.symlink_to(to)
    return at


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/proc/self/environ", "system folder"),
        ("/proc/self/cwd/.civicstat/secret-key", "system folder"),
        ("/etc/passwd", "system folder"),
        ("/dev/zero", "system folder"),
        (".civicstat/secret-key", ".civicstat folder"),
        ("data/../.civicstat/secret-key", ".civicstat folder"),
        (".civicstat/*", ".civicstat folder"),
        (".env", "hidden"),
        (".*", "hidden"),
        ("lake/raw/restricted/cases.csv", "CivicStat's own state"),
        ("lake/raw/*/*.csv", "CivicStat's own state"),
        ("../other-workspace/x.csv", "outside the workspace folder and the data roots"),
        ("{other}/x.csv", "outside the workspace folder and the data roots"),
        ("../*/x.csv", "outside the workspace folder and the data roots"),
        ("data/*/../../../other-workspace/*.csv", "'..' after a wildcard"),
        ("~/.ssh/id_rsa", ""),
    ],
)
def test_a_file_source_reads_nothing_outside_the_workspace_and_the_data_roots(
    city: dict[str, Path], path: str, reason: str
) -> None:
    path = path.format(other=city["other"])
    message = refused_at_fetch(city, path)
    assert reason in message
    assert "options.path of source 'src'" in message


def test_a_link_is_judged_by_where_it_points(city: dict[str, Path]) -> None:
    data = city["root"] / "data"
    link(data / "innocent.csv", city["root"] / ".civicstat" / "secret-key")
    assert ".civicstat folder" in refused_at_fetch(city, "data/innocent.csv")
    assert ".civicstat folder" in refused_at_fetch(city, "data/*.csv")  # a glob meets it too
    (data / "innocent.csv").unlink()
    link(data / "elsewhere", city["other"])
    assert "outside the workspace" in refused_at_fetch(city, "data/elsewhere/*.csv")
    link(data / "proc", Path("/proc/self"))
    assert "system folder" in refused_at_fetch(city, "data/proc/environ")


def test_a_data_root_lets_a_source_read_the_citys_exports_and_nothing_more(
    city: dict[str, Path],
) -> None:
    exports = city["exports"]
    message = refused_at_fetch(city, f"{exports}/permits.csv")
    assert "CIVICSTAT_DATA_ROOTS" in message
    options = FileOptions.model_validate({"path": f"{exports}/*.csv"})
    reach = boundary(city, exports)
    [payload] = FileConnector(options, context(city["root"], boundary=reach)).fetch()
    assert payload.local_path == (exports / "permits.csv").resolve()
    (exports / ".civicstat").mkdir()
    (exports / ".civicstat" / "secret-key").write_text(SECRET)
    assert ".civicstat folder" in refused_at_fetch(
        city, f"{exports}/.civicstat/secret-key", exports
    )
    link(exports / "key.csv", city["root"] / ".civicstat" / "secret-key")
    assert ".civicstat folder" in refused_at_fetch(city, f"{exports}/*.csv", exports)


def write_workspace(root: Path, source: dict[str, Any], allow: list[str] | None = None) -> Path:
    (root / "sources").mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {
        "civicstat.yaml": {
            "name": "riverton",
            "title": "Riverton",
            "network": {"allow": allow or []},
        },
        "governance.yaml": {"departments": [{"id": "it", "title": "IT"}]},
        "plan.yaml": {
            "title": "Plan",
            "period": {"start": "2026-01-01", "end": "2026-12-31"},
            "goals": [{"id": "open-data", "title": "Open data"}],
        },
        "sources/calls.yaml": {"id": "calls", "title": "Calls", "owner": "it", **source},
    }
    for name, content in files.items():
        (root / name).write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return root


CALL_COLUMNS = [{"name": "id", "type": "integer"}, {"name": "kind", "type": "string"}]


def test_validate_names_the_place_of_a_path_the_server_would_refuse(city: dict[str, Path]) -> None:
    root = write_workspace(
        city["root"],
        {"options": {"path": ".civicstat/secret-key", "format": "csv"}, "columns": CALL_COLUMNS},
    )
    _, issues = validate_workspace(root, boundary(city))
    [issue] = issues
    assert (issue.path, issue.line, issue.column) == ("sources/calls.yaml", 5, 9)
    assert issue.message.startswith(
        "options.path: '.civicstat/secret-key' is in a .civicstat folder"
    )


def test_validate_reads_the_data_roots_from_the_environment(
    city: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from civicstat.cli import app

    exports = city["exports"]
    root = write_workspace(
        city["root"], {"options": {"path": f"{exports}/*.csv"}, "columns": CALL_COLUMNS}
    )
    for name in [n for n in os.environ if n.startswith("CIVICSTAT_")]:
        monkeypatch.delenv(name)
    refused = CliRunner().invoke(app, ["validate", str(root)])
    assert refused.exit_code == 2
    assert "sources/calls.yaml:5:9: options.path:" in refused.output
    assert "CIVICSTAT_DATA_ROOTS" in refused.output
    allowed = CliRunner().invoke(
        app, ["validate", str(root)], env={"CIVICSTAT_DATA_ROOTS": str(exports)}
    )
    assert allowed.exit_code == 0, allowed.output


def open_context(root: Path, database_url: str | None = None, *roots: Path) -> Context:
    settings = Settings(
        workspace=root,
        database_url=database_url or f"sqlite:///{root.parent / (root.name + '-metadata.db')}",
        data_roots=list(roots),
    )
    ctx = Context(settings)
    ctx.migrate()
    return ctx


def test_a_file_swapped_for_a_link_after_apply_is_refused_when_the_pull_runs(
    city: dict[str, Path], admin: Actor
) -> None:
    root = write_workspace(
        city["root"], {"options": {"path": "data/calls.csv"}, "columns": CALL_COLUMNS}
    )
    ctx = open_context(root)
    try:
        workspace_service.apply(ctx, admin)
        (root / "data" / "calls.csv").unlink()
        link(root / "data" / "calls.csv", root / ".civicstat" / "secret-key")
        with pytest.raises(IngestError, match=r"\.civicstat folder"):
            ingest_service.ingest(ctx, admin, "calls")
        with ctx.db.session() as session:
            run = session.scalars(select(IngestRun)).one()
        assert run.status == "failed"
        assert SECRET not in (run.error or "")
        assert not any(
            SECRET.encode() in p.read_bytes() for p in ctx.lake.root.rglob("*") if p.is_file()
        )
    finally:
        ctx.close()


# --- secrets: never CivicStat's own variables -------------------------------------------


def own_variables() -> list[str]:
    """Every variable CivicStat reads for itself: each setting, in the case it is
    documented and in lower case (pydantic-settings reads both)."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names = [f"{prefix}{field}".upper() for field in Settings.model_fields]
    return [*names, "civicstat_secret_key", "CIVICSTAT_SCHEDULER_SECONDS"]


NETWORKED: list[tuple[type[BaseModel], type[Any], dict[str, Any], str]] = [
    (HttpOptions, HttpConnector, {"url": "http://127.0.0.1:{port}/api"}, "auth_env"),
    (
        SocrataOptions,
        SocrataConnector,
        {"url": "http://127.0.0.1:{port}/resource/abcd-1234.json"},
        "app_token_env",
    ),
    (
        ArcGISOptions,
        ArcGISConnector,
        {"url": "http://127.0.0.1:{port}/arcgis/rest/services/Parcels/FeatureServer/0"},
        "token_env",
    ),
]


@pytest.mark.parametrize("variable", own_variables())
@pytest.mark.parametrize(("model", "kind", "valid", "option"), NETWORKED)
def test_a_networked_source_never_sends_civicstats_own_variables(
    model: type[BaseModel],
    kind: type[Any],
    valid: dict[str, Any],
    option: str,
    variable: str,
    listener: Listener,
    tmp_path: Path,
) -> None:
    options = {key: value.format(port=listener.port) for key, value in valid.items()}
    with pytest.raises(ValidationError, match="one of CivicStat's own variables"):
        model.model_validate({**options, option: variable})
    bad = bypassing_validation(model, options, **{option: variable})
    env = {variable: SECRET}
    connector = kind(bad, context(tmp_path, env=env, allow=("127.0.0.1",)))
    with pytest.raises(ConnectorError, match=f"options.{option} of source 'src' names {variable}"):
        list(connector.fetch())
    assert listener.hits == []


def test_no_source_option_may_name_civicstats_own_variables(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="one of CivicStat's own variables"):
        SqlOptions(url_env="CIVICSTAT_DATABASE_URL", query="SELECT 1")
    with pytest.raises(ValidationError, match="one of CivicStat's own variables"):
        FileOptions.model_validate(
            {"path": "s3://b/x.csv", "storage_env": {"secret": "CIVICSTAT_SECRET_KEY"}}
        )
    bad = bypassing_validation(
        SqlOptions, {"url_env": "ERP_URL", "query": "SELECT 1"}, url_env="CIVICSTAT_DATABASE_URL"
    )
    env = {"CIVICSTAT_DATABASE_URL": "sqlite://"}
    with pytest.raises(ConnectorError, match="names CIVICSTAT_DATABASE_URL"):
        list(SqlConnector(bad, context(tmp_path, env=env)).fetch())


def test_validate_names_the_place_of_an_own_variable(tmp_path: Path) -> None:
    root = write_workspace(
        tmp_path / "ws",
        {
            "connector": "http",
            "options": {"url": "https://api.example.org/x", "auth_env": "CIVICSTAT_SECRET_KEY"},
            "columns": CALL_COLUMNS,
        },
    )
    _, issues = validate_workspace(root)
    [issue] = issues
    assert (issue.path, issue.line) == ("sources/calls.yaml", 7)
    assert (
        "options.auth_env: variable CIVICSTAT_SECRET_KEY is one of CivicStat's own variables"
        in issue.message
    )


# --- a sql source never reads a metadata store ------------------------------------------

USERS_QUERY = "SELECT username, password_hash FROM users"


def add_user(ctx: Context, admin: Actor) -> None:
    users_service.add_user(
        ctx, admin, username="ana", password="correct horse battery staple", role=Role.ADMIN
    )


def test_a_sql_source_never_reads_a_sqlite_metadata_store(
    city: dict[str, Path], admin: Actor
) -> None:
    root = write_workspace(
        city["root"], {"options": {"path": "data/calls.csv"}, "columns": CALL_COLUMNS}
    )
    ctx = Context(Settings(workspace=root))  # the default store: .civicstat/metadata.db
    try:
        ctx.migrate()
        add_user(ctx, admin)
        store = root / ".civicstat" / "metadata.db"
        backup = root / "data" / "exports.db"  # a copy where a source may read files
        with sqlite3.connect(store) as source, sqlite3.connect(backup) as target:
            source.backup(target)
        for url, message in [
            (f"sqlite:///{store}", r"\.civicstat folder"),
            (f"sqlite:///{root}/data/../.civicstat/metadata.db", r"\.civicstat folder"),
            (f"sqlite:///{backup}", "holds a CivicStat metadata store"),
        ]:
            options = SqlOptions(url_env="ERP_URL", query=USERS_QUERY)
            reach = context(root, env={"ERP_URL": url}, boundary=ctx.boundary)
            with pytest.raises(ConnectorError, match=message):
                list(SqlConnector(options, reach).fetch())
    finally:
        ctx.close()


@pytest.mark.postgres
def test_a_sql_source_never_reads_a_postgresql_metadata_store(
    postgres_url: str, tmp_path: Path, admin: Actor
) -> None:
    root = write_workspace(tmp_path / "ws", {"options": {"path": "x.csv"}, "columns": CALL_COLUMNS})
    ctx = open_context(root, postgres_url)
    try:
        add_user(ctx, admin)
        url = make_url(postgres_url)
        for host in ("127.0.0.1", "localhost"):
            aimed = url.set(host=host).render_as_string(hide_password=False)
            options = SqlOptions(url_env="ERP_URL", query=USERS_QUERY)
            reach = context(root, env={"ERP_URL": aimed}, allow=("127.0.0.1", "::1", "localhost"))
            with pytest.raises(ConnectorError, match="holds a CivicStat metadata store"):
                list(SqlConnector(options, reach).fetch())
    finally:
        ctx.close()


# --- error messages quote a bounded, escaped snippet ------------------------------------

EVIL_HEADER = "\x1b[2J\x00\u202e" + "A" * 5000 + SECRET + ",kind\n"


def ingest_failure(ctx: Context, admin: Actor) -> IngestRun:
    workspace_service.apply(ctx, admin)
    with pytest.raises(IngestError):
        ingest_service.ingest(ctx, admin, "calls")
    with ctx.db.session() as session:
        return session.scalars(select(IngestRun)).one()


def test_a_header_mismatch_quotes_a_bounded_escaped_snippet_of_the_header(
    tmp_path: Path, admin: Actor
) -> None:
    root = write_workspace(
        tmp_path / "ws", {"options": {"path": "data/evil.csv"}, "columns": CALL_COLUMNS}
    )
    (root / "data").mkdir()
    (root / "data" / "evil.csv").write_text(EVIL_HEADER + "1,fire\n", encoding="utf-8")
    ctx = open_context(root)
    try:
        run = ingest_failure(ctx, admin)
    finally:
        ctx.close()
    error = run.error or ""
    assert "declared column(s) missing" in error
    assert SECRET not in error
    assert not any(c in error for c in "\x1b\x00\u202e")
    assert "\\x1b[2J\\x00\\u202e" in error
    assert len(error) < 2 * LIMIT + 200


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_a_quarantine_reason_and_the_run_error_quote_a_bounded_value(
    fmt: str, tmp_path: Path, admin: Actor
) -> None:
    value = "\x07" + "9" * 3000 + SECRET
    root = write_workspace(
        tmp_path / "ws",
        {
            "options": {"path": f"data/calls.{fmt}"},
            "columns": CALL_COLUMNS,
            "load": {"max_bad_rows": 0},
        },
    )
    (root / "data").mkdir()
    body = (
        f'id,kind\n"{value}",fire\n' if fmt == "csv" else f'{{"id": "{value}", "kind": "fire"}}\n'
    )
    (root / "data" / f"calls.{fmt}").write_text(
        body.replace("\x07", "\\u0007") if fmt == "ndjson" else body
    )
    ctx = open_context(root)
    try:
        run = ingest_failure(ctx, admin)
        with ctx.db.session() as session:
            [bad] = session.scalars(select(QuarantinedRow)).all()
    finally:
        ctx.close()
    for text in (run.error or "", bad.reason):
        assert "is not a valid integer" in text
        assert SECRET not in text
        assert "\x07" not in text
        assert len(text) < 2 * LIMIT + 300


def test_quoting_is_bounded_and_escapes_what_a_terminal_or_page_would_act_on() -> None:
    from civicstat.excerpt import excerpt, listing, quoted

    assert quoted("O'Neil") == '"O\'Neil"'
    assert quoted("a\nb\x00\u202e") == "'a\\nb\\x00\\u202e'"
    long = quoted("\x00" * 10_000)
    assert len(long) <= LIMIT + 3
    assert long.endswith("…'")
    assert excerpt("x" * 500, 10) == "x" * 10 + "…"
    listed = listing([f"col{i}" for i in range(1000)], 40)
    assert listed == "col0, col1, col2, col3, col4, col5, …and 994 more"


def test_the_workspace_default_boundary_is_the_workspace_alone(tmp_path: Path) -> None:
    """A context built without a boundary (tests, third-party callers) is confined too."""
    (tmp_path / "ws").mkdir()
    outside = tmp_path / "outside.csv"
    outside.write_text("id\n1\n")
    options = FileOptions.model_validate({"path": str(outside)})
    with pytest.raises(ConnectorError, match="outside the workspace"):
        list(FileConnector(options, ConnectorContext(tmp_path / "ws")).fetch())
    shutil.rmtree(tmp_path / "ws")
