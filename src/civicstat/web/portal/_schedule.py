"""A dataset's update schedule in words: its frequency, and its cron schedule read out when
it is a simple one ("every day at 06:00")."""

from __future__ import annotations

from civicstat.spec.models import Frequency

_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def schedule_words(frequency: Frequency, cron: str | None) -> str:
    said = str(frequency).capitalize()
    timed = cron_words(cron) if cron else None
    return f"{said} ({timed})" if timed else said


def cron_words(cron: str) -> str | None:
    """A five-field cron schedule in words when it is simple; None otherwise."""
    fields = cron.split()
    if len(fields) != 5 or not all(f.isdigit() or f == "*" for f in fields):
        return None
    minute, hour, day, month, weekday = fields
    if minute == "*" or month != "*":
        return None
    if hour == "*":
        return f"every hour at {int(minute)} minutes past" if day == weekday == "*" else None
    at = f"{int(hour):02d}:{int(minute):02d}"
    if int(hour) > 23 or int(minute) > 59:
        return None
    if day == "*" and weekday == "*":
        return f"every day at {at}"
    if day == "*" and int(weekday) <= 7:
        return f"every {_DAYS[int(weekday) % 7]} at {at}"
    if weekday == "*" and 1 <= int(day) <= 31:
        return f"on day {int(day)} of every month at {at}"
    return None
