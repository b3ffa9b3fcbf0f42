"""bench/schemathesis_campaign: the long schemathesis run over the JSON API.

    python -m bench.schemathesis_campaign [--examples 500] [--seed N] [-- pytest options]

Runs ``tests/web/test_schemathesis.py`` (the API against its own OpenAPI document, as an
administrator, with a push token and anonymously; generated and existing ids) with
``--examples`` generated requests per operation and caller instead of the suite's 8. With
``--seed`` the run repeats exactly; without, each run explores new inputs. Prints the
time taken and exits with pytest's status: 0 when schemathesis found nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/web/test_schemathesis.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="requests per operation")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed, to repeat")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples is at least 1")
    command = [sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider"]
    if args.seed is not None:
        command.append(f"--hypothesis-seed={args.seed}")
    command += args.pytest_args
    env = os.environ | {"CIVICSTAT_SCHEMATHESIS_EXAMPLES": str(args.examples)}
    started = time.perf_counter()
    status = subprocess.call(command, cwd=ROOT, env=env)
    took = time.perf_counter() - started
    verdict = "no failures" if status == 0 else f"pytest exit status {status}"
    print(f"schemathesis campaign: {args.examples} examples per operation, {took:.0f} s, {verdict}")
    return status


if __name__ == "__main__":
    sys.exit(main())
