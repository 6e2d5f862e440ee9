"""Cron schedules: what a BatchPrediction's `trigger.schedule` accepts, and which run is due."""

from __future__ import annotations

import datetime as dt

import pytest

from paved.api.cron import CronError, parse_cron

AT = dt.datetime(2026, 12, 5, 10, 37, 12, tzinfo=dt.UTC)  # a Saturday


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("schedule", "latest"),
    [
        ("* * * * *", utc(2026, 12, 5, 10, 37)),
        ("0 2 * * *", utc(2026, 12, 5, 2, 0)),
        ("0 22 * * *", utc(2026, 12, 4, 22, 0)),
        ("*/15 * * * *", utc(2026, 12, 5, 10, 30)),
        ("0 0 * * 1", utc(2026, 11, 30, 0, 0)),  # last Monday
        ("0 0 * * 6", utc(2026, 12, 5, 0, 0)),  # today, a Saturday
        ("30 8 1 * *", utc(2026, 12, 1, 8, 30)),
        ("0 0 29 2 *", utc(2024, 2, 29, 0, 0)),
        ("0 0 1 * 3", utc(2026, 12, 2, 0, 0)),  # a Wednesday: day of month OR day of week
        ("0 0 * * 7", utc(2026, 11, 29, 0, 0)),  # 7 is Sunday too
    ],
)
def test_the_latest_scheduled_time_at_or_before_a_moment(
    schedule: str, latest: dt.datetime
) -> None:
    assert parse_cron(schedule).latest(AT) == latest


def test_a_scheduled_time_is_its_own_latest() -> None:
    assert parse_cron("37 10 * * *").latest(utc(2026, 12, 5, 10, 37)) == utc(2026, 12, 5, 10, 37)


def test_the_next_run_follows_the_moment() -> None:
    assert parse_cron("0 2 * * *").next_after(AT) == utc(2026, 12, 6, 2, 0)
    assert parse_cron("*/15 * * * *").next_after(AT) == utc(2026, 12, 5, 10, 45)


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("0 2 * *", "has 4 fields"),
        ("60 * * * *", "minute: '60' is outside 0-59"),
        ("0 24 * * *", "hour: '24' is outside 0-23"),
        ("0 0 0 * *", "day of month: '0' is outside 1-31"),
        ("0 0 * 13 *", "month: '13' is outside 1-12"),
        ("0 0 * * 8", "day of week: '8' is outside 0-7"),
        ("*/0 * * * *", "minute: step 0 must be at least 1"),
        ("0 0 * JAN *", "month: 'JAN' is not a number"),
        ("5-1 * * * *", "backwards"),
        ("0 0 31 2 *", "never runs"),
    ],
)
def test_a_schedule_outside_the_language_is_refused_with_why(schedule: str, says: str) -> None:
    with pytest.raises(CronError, match=says):
        parse_cron(schedule)
