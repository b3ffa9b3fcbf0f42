"""Long-running processes: ``serve`` the web app and API, and run the ``worker``."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from civicstat.cli._common import WorkspaceOpt, err, fail, log_to_stderr, opened
from civicstat.services.errors import InsecureSecretKey
from civicstat.services.operators import check_settings
from civicstat.settings import Settings


def serve(
    workspace: WorkspaceOpt = Path("."),
    host: str = "127.0.0.1",
    port: int = 8000,
    scheduler: Annotated[
        bool, typer.Option("--scheduler/--no-scheduler", help="Run the sources' schedules")
    ] = True,
) -> None:
    """Serve the web app and API (and, unless --no-scheduler, run the sources' schedules)."""
    import uvicorn

    from civicstat.web.app import create_app
    from civicstat.worker.scheduler import from_environment

    settings = Settings(workspace=workspace)
    try:
        check_settings(settings)
    except InsecureSecretKey as error:
        fail(str(error))
    with opened(workspace):
        pass  # migrate once, before the server starts
    if scheduler:
        log_to_stderr()
    app = create_app(settings, background=from_environment if scheduler else None)
    uvicorn.run(app, host=host, port=port, log_level="info")


def worker(workspace: WorkspaceOpt = Path(".")) -> None:
    """Run the sources' schedules in the foreground until SIGINT or SIGTERM."""
    from civicstat.worker.scheduler import Scheduler, interval_override

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # a second signal: stop now; the lock frees itself
        stop.set()

    with opened(workspace) as ctx:
        try:
            every = interval_override()
        except ValueError as error:
            fail(str(error))
        log_to_stderr()
        handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        background = Scheduler(ctx, every_seconds=every)
        try:
            background.start()
            err.print(
                f"worker {background.actor}: {len(background.scheduled)} scheduled source(s); "
                "Ctrl-C to stop",
                markup=False,
                soft_wrap=True,
            )
            while not stop.wait(1):
                pass
            err.print("stopping: running ingests finish first (signal again to stop now)")
        finally:
            background.shutdown(wait=True)
            for number, handler in handlers.items():
                signal.signal(number, handler)
    err.print("worker stopped")
