"""Run a callable in a fresh process and report its wall time and peak memory."""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import resource
import time
from collections.abc import Callable
from typing import Any


def _child(fn: Callable[..., Any], args: tuple[Any, ...], queue: Any) -> None:
    start = time.perf_counter()
    timed = fn(*args)
    # A function that has set-up to leave out (imports, fixtures) returns its own timing.
    elapsed = timed if isinstance(timed, float) else time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((elapsed, peak_kib * 1024))


def measure(fn: Callable[..., Any], *args: Any) -> tuple[float, int]:
    """(seconds, peak resident bytes) of ``fn(*args)`` in its own process, so peaks of one
    measurement never hide inside another's."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(fn, args, queue))
    process.start()
    result = None
    while result is None:
        try:
            result = queue.get(timeout=1)
        except queue_module.Empty:
            if not process.is_alive():  # died without an answer: never wait for one
                break
    process.join()
    if process.exitcode != 0 or result is None:
        raise RuntimeError(f"benchmark process failed with exit code {process.exitcode}")
    seconds, peak = result
    return float(seconds), int(peak)
