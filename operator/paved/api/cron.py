"""Cron schedules (five fields, UTC): parsed and checked before the operator sees one, and the
latest scheduled time at or before a moment, which a scheduled batch prediction runs as of.

Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those. Day of
month and day of week follow cron's rule: when both are restricted, a day matching either counts.
Day of week 0 and 7 are Sunday. No names (JAN, MON) and no `@daily`: a schedule is numbers only.

Pure: no I/O, no clock. It lives with the API models because the spec validates with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

# A schedule that matches at all matches within four years (29 February included).
_SEARCH_DAYS: Final = 4 * 366 + 1
_BOUNDS: Final = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12))
_WEEKDAY: Final = ("day of week", 0, 7)


class CronError(ValueError):
    """The schedule is not a five-field numeric cron expression; the message says which part."""


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month was `*`
    any_weekday: bool  # day of week was `*`

    def runs_on(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        in_month, in_week = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def latest(self, moment: dt.datetime) -> dt.datetime | None:
        """The latest scheduled time at or before `moment` (UTC), or None within four years."""
        moment = moment.astimezone(dt.UTC)
        for back in range(_SEARCH_DAYS):
            day = moment.date() - dt.timedelta(days=back)
            if not self.runs_on(day):
                continue
            limit = (moment.hour, moment.minute) if back == 0 else (23, 59)
            times = [(h, m) for h in self.hours for m in self.minutes if (h, m) <= limit]
            if times:
                hour, minute = max(times)
                return dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)
        return None

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first scheduled time after `moment` (UTC), or None within four years."""
        moment = moment.astimezone(dt.UTC)
        for ahead in range(_SEARCH_DAYS):
            day = moment.date() + dt.timedelta(days=ahead)
            if not self.runs_on(day):
                continue
            after = (moment.hour, moment.minute) if ahead == 0 else (-1, -1)
            times = [(h, m) for h in self.hours for m in self.minutes if (h, m) > after]
            if times:
                hour, minute = min(times)
                return dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)
        return None


def parse_cron(text: str) -> Cron:
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"has {len(fields)} fields; a cron schedule has five")
    minutes, hours, days, months = (
        _field(part, *bounds) for part, bounds in zip(fields[:4], _BOUNDS, strict=True)
    )
    weekdays = frozenset(d % 7 for d in _field(fields[4], *_WEEKDAY))
    cron = Cron(minutes, hours, days, months, weekdays, fields[2] == "*", fields[4] == "*")
    if cron.latest(dt.datetime(2030, 1, 1, tzinfo=dt.UTC)) is None:
        raise CronError("never runs (no such day in any month)")
    return cron


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, name) if step_text else 1
        if step < 1:
            raise CronError(f"{name}: step {step} must be at least 1")
        if span == "*":
            first, last = low, high
        else:
            start, dash, end = span.partition("-")
            first = _number(start, name)
            last = _number(end, name) if dash else (high if step_text else first)
        if not low <= first <= last <= high:
            raise CronError(f"{name}: {part!r} is outside {low}-{high} or backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _number(text: str, name: str) -> int:
    if not text.isdigit():
        raise CronError(f"{name}: {text!r} is not a number")
    return int(text)
