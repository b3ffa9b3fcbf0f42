"""bench/portal: the public side under a steady load, against /healthz in the same run.

    python -m bench.portal [--calls 1100000] [--seconds 60] [--rate 100]
                           [--dataset service_requests] [--city riverton|example]

Builds the demo city (Riverton, ``--calls`` 911 calls; or ``--city example``, the example
workspace) with its data ingested, serves it with ``civicstat serve`` in its own process
on loopback, and drives ``--rate`` requests a second for ``--seconds`` at each of: the
SODA endpoint (``/resource/<dataset>.json?$limit=100``), the portal home (``/portal``)
and ``/healthz``, at once, with wrk (one process each, paced to a constant rate by
``bench/portal_pace.lua``). The public requests carry an app token, and the workspace's
token limit is raised above the load, so rate limits do not bite. Reported per endpoint:
requests, achieved rate, p50/p95/p99/max in ms, errors (socket errors and answers >= 400),
p99 as a ratio to /healthz's, and the first answer's time (made from the data, before the
server keeps a copy: ``web.public_cache``). Target: 0 errors and p99 under 50 ms. Exits 1 on any
error, or when wrk is missing (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.pages import serve

TARGET_P99_MS = 50.0
PACE = Path(__file__).with_name("portal_pace.lua")
CONNECTIONS = 8


def endpoints(dataset: str) -> dict[str, str]:
    return {
        "baseline": "/healthz",
        "soda": f"/resource/{dataset}.json?$limit=100",
        "portal_home": "/portal",
    }


def build(root: Path, city: str, calls: int, load: int) -> tuple[dict[str, int], str]:
    """The city applied and ingested, its token limit above ``load`` a minute; returns the
    rows per dataset and the text of a ``portal:app`` token."""
    from civicstat.demo import riverton
    from civicstat.governance.actors import operator
    from civicstat.services import ingest, publication, workspace
    from civicstat.services.accounts import tokens
    from civicstat.services.context import Context
    from civicstat.settings import Settings
    from civicstat.spec.example import write_example

    if city == "riverton":
        riverton.write_workspace(root, calls=calls)
    else:
        write_example(root)
    spec_file = root / "civicstat.yaml"
    spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    portal = spec.setdefault("portal", {})
    portal["rate_limit"] = {"per_minute": 600, "per_minute_with_token": max(6000, 2 * load)}
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    ctx = Context(Settings(workspace=root))
    try:
        ctx.migrate()
        admin = operator("bench")
        workspace.apply(ctx, admin)
        with ctx.db.session() as session:
            sources = sorted(ctx.require_plan(session).sources)
        rows = {}
        for source in sources:
            outcome = ingest.ingest(ctx, admin, source)
            assert outcome.result.version is not None
            rows[source] = outcome.result.version.row_count
        for measure_id in (
            getattr(riverton, "APPROVED_FOR_PUBLICATION", ()) if city == "riverton" else ()
        ):
            publication.approve(ctx, admin, measure_id)
        token = tokens.create(ctx, admin, name="bench", scopes=["portal:app:*"], expires_days=1)
    finally:
        ctx.close()
    return rows, token.text


def drive(base: str, paths: dict[str, str], token: str, seconds: int, rate: int) -> dict[str, Any]:
    """Run one paced wrk per endpoint, all at once; their JSON summaries by endpoint name."""
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("bench.portal needs wrk: apt-get install wrk")
    running = {}
    for name, path in paths.items():
        command = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
                   "-s", str(PACE)]  # fmt: skip
        if name != "baseline":
            command += ["-H", f"X-App-Token: {token}"]
        command += [base + path, "--", str(rate)]
        running[name] = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    found = {}
    for name, process in running.items():
        output, _ = process.communicate(timeout=seconds + 60)
        summary = [line for line in output.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not summary:
            raise RuntimeError(f"wrk failed on {paths[name]}: {output}")
        found[name] = json.loads(summary[-1])
    return found


def warm(base: str, paths: dict[str, str], token: str) -> dict[str, float]:
    """A few requests to each endpoint first, so that a broken one fails early; returns
    each one's first answer time in ms: made from the data, before any copy is kept."""
    import time

    import httpx

    cold = {}
    with httpx.Client(base_url=base, timeout=60, headers={"X-App-Token": token}) as client:
        for round_ in range(5):
            for name, path in paths.items():
                started = time.perf_counter()
                answer = client.get(path)
                if not round_:
                    cold[name] = round((time.perf_counter() - started) * 1000, 1)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
    return cold


def report(
    runs: dict[str, Any], cold: dict[str, float], paths: dict[str, str], rate: int, seconds: int
) -> dict[str, Any]:
    base_p99 = runs["baseline"]["p99_us"] / 1000
    found = {}
    for name, run in runs.items():
        errors = sum(run[k] for k in ("connect", "read", "write", "status", "timeout"))
        p99 = run["p99_us"] / 1000
        found[name] = {
            "path": paths[name],
            "requests": run["requests"],
            "achieved_rate": round(run["requests"] / (run["duration_us"] / 1e6), 1),
            "p50_ms": round(run["p50_us"] / 1000, 2),
            "p95_ms": round(run["p95_us"] / 1000, 2),
            "p99_ms": round(p99, 2),
            "max_ms": round(run["max_us"] / 1000, 2),
            "errors": errors,
            "p99_ratio": round(p99 / base_p99, 2) if base_p99 else None,
            "first_answer_ms": cold[name],
        }
    public = [v for k, v in found.items() if k != "baseline"]
    return {
        "benchmark": "portal",
        "rate_per_endpoint": rate,
        "seconds": seconds,
        "endpoints": found,
        "errors": sum(v["errors"] for v in found.values()),
        "target_p99_ms": TARGET_P99_MS,
        "all_under_target": all(v["p99_ms"] < TARGET_P99_MS for v in public),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", "--rows", type=int, default=1_100_000, dest="calls")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=int, default=100, help="requests a second per endpoint")
    parser.add_argument("--dataset", default="service_requests", help="the SODA dataset")
    parser.add_argument("--city", choices=("riverton", "example"), default="riverton")
    args, _ = parser.parse_known_args()  # `make bench` passes every benchmark the same args
    paths = endpoints(args.dataset)
    with tempfile.TemporaryDirectory(prefix="civicstat-bench-portal-") as tmp:
        root = Path(tmp) / args.city
        rows, token = build(root, args.city, args.calls, 2 * args.rate * 60)
        server, base = serve(root)
        try:
            cold = warm(base, paths, token)
            runs = drive(base, paths, token, args.seconds, args.rate)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = report(runs, cold, paths, args.rate, args.seconds) | {"rows": rows, "city": args.city}
    print(json.dumps(result, indent=2))
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
