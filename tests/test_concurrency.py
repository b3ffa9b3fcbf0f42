"""`civicstat serve` and `civicstat ingest` on one workspace at the same time.

While another process publishes new versions, every answer the server gives is complete:
either the old version or the new one, with exactly that version's rows — never an error,
never a half-loaded table.
"""

from __future__ import annotations

import csv
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import DataVersion
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import users
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.example import write_example

CLI = [sys.executable, "-m", "civicstat.cli"]
PASSWORD = "a long test password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_copies(template: list[list[str]], header: list[str], copies: int, target: Path) -> int:
    """Atomically replace the source file with ``copies`` copies of the template rows."""
    temp = target.with_suffix(".tmp")
    with temp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(copies):
            for row in template:
                writer.writerow([f"{row[0]}-{i}", *row[1:]])
    temp.replace(target)
    return copies * len(template)


@dataclass(frozen=True)
class Served:
    root: Path
    base: str
    env: dict[str, str]
    cookies: dict[str, str]


@pytest.fixture
def served(tmp_path: Path, database_url: str, admin: Actor) -> Iterator[Served]:
    root = tmp_path / "ws"
    write_example(root)
    env = {**os.environ, "CIVICSTAT_DATABASE_URL": database_url}
    ctx = Context(Settings(workspace=root, database_url=database_url))
    ctx.migrate()
    workspace_service.apply(ctx, admin)
    ingest_service.ingest(ctx, admin, "service_requests")
    users.add_user(ctx, admin, username="reader", password=PASSWORD, role=Role.ADMIN)
    ctx.close()

    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "-w", str(root), "--port", str(port), "--no-scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                output = server.stderr.read().decode() if server.stderr else ""
                pytest.fail(f"server did not start: {output}")
            time.sleep(0.2)
        with httpx.Client(base_url=base) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            client.post(
                "/login",
                data={
                    "username": "reader",
                    "password": PASSWORD,
                    "csrf_token": token.group(1),
                    "next": "/plan",
                },
            )
            cookies = dict(client.cookies)
        yield Served(root, base, env, cookies)
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.slow
def test_reads_during_ingest_see_one_whole_version(served: Served) -> None:
    root, base, env, cookies = served.root, served.base, served.env, served.cookies
    data = root / "data" / "service_requests.csv"
    with data.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, template = rows[0], rows[1:]

    answers: list[tuple[int, int]] = []
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
            while not stop.is_set():
                for path in ("/api/v1/datasets/service_requests", "/api/v1/plan"):
                    try:
                        response = client.get(path)
                    except httpx.TransportError as error:
                        errors.append(f"{path}: {error!r}")
                        continue
                    if response.status_code != 200:
                        errors.append(f"{path}: {response.status_code} {response.text[:200]}")
                    elif path.endswith("service_requests"):
                        body = response.json()
                        answers.append((body["version"], body["row_count"]))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for copies in (150, 1, 100):  # 45,000 rows, then 300, then 30,000
            write_copies(template, header, copies, data)
            result = subprocess.run(
                [*CLI, "ingest", "-w", str(root)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, result.stderr
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)

    ctx = Context(Settings(workspace=root, database_url=env["CIVICSTAT_DATABASE_URL"]))
    with ctx.db.session() as session:
        published = {v.version: v.row_count for v in session.scalars(select(DataVersion))}
    ctx.close()

    assert errors == []
    assert published == {1: 300, 2: 45_000, 3: 300, 4: 30_000}
    assert len(answers) > 20
    for version, row_count in answers:
        assert published[version] == row_count, (version, row_count)
    seen = {version for version, _ in answers}
    assert len(seen) >= 2, f"readers saw only versions {seen}"
