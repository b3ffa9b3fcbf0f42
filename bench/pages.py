"""bench/pages: how fast each page type of the demo city answers, against a no-op baseline.

    python -m bench.pages [--calls 1100000] [--repeat 50]

Builds Riverton (``civicstat demo``'s city: ``--calls`` 911 calls, 311 requests and
permits over three years), applies, ingests and computes it through the services, then
serves it with ``civicstat serve`` in its own process, as a city would run it. A signed-in
client (HTTP keep-alive, in this process) requests every page type ``--repeat`` times,
round-robin so that noise spreads evenly, after one warm-up round. ``/healthz``, which
does no work, is the baseline: the HTTP and framework cost every page pays. Reported per
page type: p50 and p95 in milliseconds, and p95 above the baseline's. Target: every page's
p95 under 200 ms. Exits 1 if a page does not answer 200.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

TARGET_P95_MS = 200.0
MEASURE = "pct-911-answered-10s"  # the 911 centre's KPI: 1.1M calls by default
PAGES = {
    "baseline": "/healthz",
    "overview": "/",
    "plan": "/plan",
    "goal": "/goals/safe-neighborhoods",
    "departments": "/departments",
    "department": "/departments/emergency-communications",
    "measure": f"/measures/{MEASURE}",
    "measure_slice": f"/measures/{MEASURE}?slice=district%3DHarbor&sort=value&dir=desc",
    "measure_csv": f"/measures/{MEASURE}/data.csv",
    "runs": "/runs",
    "audit": "/audit",
}
USERNAME = "bench"
PASSWORD = "bench pages password, not a secret"  # noqa: S105 - a throwaway workspace's


def build(root: Path, calls: int) -> dict[str, int]:
    """Riverton with its data ingested and measures computed; returns rows per dataset."""
    from civicstat.demo.riverton import write_workspace
    from civicstat.governance.actors import Role, operator
    from civicstat.services import ingest, workspace
    from civicstat.services.accounts import users
    from civicstat.services.context import Context
    from civicstat.settings import Settings

    write_workspace(root, calls=calls)
    ctx = Context(Settings(workspace=root))
    try:
        ctx.migrate()
        admin = operator("bench")
        workspace.apply(ctx, admin)
        rows = {}
        for source in ("calls_911", "service_requests", "permits"):
            outcome = ingest.ingest(ctx, admin, source)
            assert outcome.result.version is not None
            rows[source] = outcome.result.version.row_count
        users.add_user(ctx, admin, username=USERNAME, password=PASSWORD, role=Role.ADMIN)
    finally:
        ctx.close()
    return rows


def serve(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "civicstat.cli", "serve", "-w", str(root),
               "--port", str(port), "--no-scheduler"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("civicstat serve did not start")


def sign_in(client: httpx.Client) -> None:
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    response = client.post(
        "/login",
        data={"username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in failed: {response.status_code}")


def time_pages(base: str, repeat: int) -> dict[str, list[float]]:
    """Milliseconds per request, by page type."""
    timings: dict[str, list[float]] = {name: [] for name in PAGES}
    with httpx.Client(base_url=base, timeout=60) as client:
        sign_in(client)
        for round_ in range(repeat + 1):
            for name, path in PAGES.items():
                start = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - start) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code}")
                if round_:  # the first round warms caches up
                    timings[name].append(elapsed)
    return timings


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with ``share`` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def report(timings: dict[str, list[float]], rows: dict[str, int], repeat: int) -> dict[str, Any]:
    base_p95 = percentile(timings["baseline"], 0.95)
    pages = {
        name: {
            "path": PAGES[name],
            "p50_ms": round(percentile(values, 0.5), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "max_ms": round(max(values), 1),
            "p95_over_baseline_ms": round(percentile(values, 0.95) - base_p95, 1),
        }
        for name, values in timings.items()
        if name != "baseline"
    }
    slowest = max(pages, key=lambda n: pages[n]["p95_ms"])
    return {
        "benchmark": "pages",
        "rows": rows,
        "repeat": repeat,
        "baseline": {
            "path": PAGES["baseline"],
            "p50_ms": round(percentile(timings["baseline"], 0.5), 1),
            "p95_ms": round(base_p95, 1),
        },
        "pages": pages,
        "slowest": slowest,
        "target_p95_ms": TARGET_P95_MS,
        "all_under_target": all(p["p95_ms"] < TARGET_P95_MS for p in pages.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", "--rows", type=int, default=1_100_000, dest="calls")
    parser.add_argument("--repeat", type=int, default=50)
    args, _ = parser.parse_known_args()  # `make bench` passes every benchmark the same args
    with tempfile.TemporaryDirectory(prefix="civicstat-bench-pages-") as tmp:
        root = Path(tmp) / "riverton"
        rows = build(root, args.calls)
        server, base = serve(root)
        try:
            timings = time_pages(base, args.repeat)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps(report(timings, rows, args.repeat), indent=2))


if __name__ == "__main__":
    main()
