"""The progress bar of an ingest run on a terminal: its phase, share done and elapsed time."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator

from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
)
from rich.text import Text

from civicstat.cli._common import err

__all__ = ["ingest_progress"]


@contextlib.contextmanager
def ingest_progress(source_id: str) -> Iterator[_PhaseBar | None]:
    """A progress bar on stderr with the run's phase, share done and elapsed time, gone
    when the run ends; the bar sweeps while the amount of work is not known. ``None`` (no
    progress measured at all) when stderr is not a terminal.
    """
    if not err.is_terminal:  # a pipe, cron or CI log gets the result lines only
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}[/bold]"),
        TextColumn("{task.fields[phase]}"),
        BarColumn(),
        TaskProgressColumn(),
        _RunElapsed(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        yield _PhaseBar(bar, source_id)


class _PhaseBar:
    """Shows a run's progress: each phase is a task of its own, so its bar starts empty
    (or sweeping, while its amount of work is not known)."""

    def __init__(self, bar: Progress, source_id: str) -> None:
        self._bar = bar
        self._source_id = source_id
        self._lock = threading.Lock()
        self._shown: tuple[str, bool] | None = None
        self._task = bar.add_task(source_id, total=None, phase="starting")

    def __call__(self, phase: str, done: float | None = None, /) -> None:
        with self._lock:
            if self._shown != (phase, done is not None):
                self._shown = (phase, done is not None)
                self._bar.remove_task(self._task)
                total = None if done is None else 1.0
                self._task = self._bar.add_task(self._source_id, total=total, phase=phase)
            if done is not None:
                self._bar.update(self._task, completed=done)


class _RunElapsed(ProgressColumn):
    """Time since the run began, across its phases."""

    def __init__(self) -> None:
        super().__init__()
        self._started = time.monotonic()

    def render(self, task: Task) -> Text:
        seconds = int(time.monotonic() - self._started)
        return Text(str(dt.timedelta(seconds=seconds)), style="progress.elapsed")
