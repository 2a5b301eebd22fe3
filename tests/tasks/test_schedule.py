"""Periods: when the current period started and when the next one starts (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.tasks.schedule import Daily, Every, Monthly, Weekly


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_every_five_minutes_lines_up_on_the_clock() -> None:
    period = Every(300)
    assert period.start(at(2026, 11, 25, 17, 42, 13)) == at(2026, 11, 25, 17, 40)
    assert period.next_start(at(2026, 11, 25, 17, 42, 13)) == at(2026, 11, 25, 17, 45)


def test_hourly_period_starts_on_the_hour() -> None:
    assert Every(3600).start(at(2026, 11, 25, 17, 59, 59)) == at(2026, 11, 25, 17)


def test_daily_job_before_its_hour_belongs_to_yesterdays_period() -> None:
    period = Daily(3, 10)
    assert period.start(at(2026, 11, 25, 2, 0)) == at(2026, 11, 24, 3, 10)
    assert period.start(at(2026, 11, 25, 3, 10)) == at(2026, 11, 25, 3, 10)
    assert period.next_start(at(2026, 11, 25, 2, 0)) == at(2026, 11, 25, 3, 10)


def test_weekly_job_runs_from_its_weekday() -> None:
    period = Weekly(0, 4, 30)  # Monday 04:30
    # 2026-11-25 is a Wednesday
    assert period.start(at(2026, 11, 25, 12)) == at(2026, 11, 23, 4, 30)
    assert period.next_start(at(2026, 11, 25, 12)) == at(2026, 11, 30, 4, 30)
    assert period.start(at(2026, 11, 23, 4, 0)) == at(2026, 11, 16, 4, 30)


def test_monthly_job_crosses_the_year_boundary() -> None:
    period = Monthly(1, 1, 0)
    assert period.start(at(2026, 1, 1, 0, 30)) == at(2025, 12, 1, 1)
    assert period.next_start(at(2026, 12, 15)) == at(2027, 1, 1, 1)


def test_quarterly_job_starts_in_january_april_july_october() -> None:
    period = Monthly(1, 2, 0, months=3)
    assert period.start(at(2026, 11, 25)) == at(2026, 10, 1, 2)
    assert period.next_start(at(2026, 11, 25)) == at(2027, 1, 1, 2)
    assert period.start(at(2026, 1, 1, 1)) == at(2025, 10, 1, 2)


def test_periods_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        Every(0)
    with pytest.raises(ValueError):
        Monthly(day=31)
    with pytest.raises(ValueError):
        Monthly(months=5)


def test_periods_describe_themselves_for_the_docs() -> None:
    assert Every(300).describe() == "every 5 minutes"
    assert Every(3600).describe() == "every hour"
    assert Monthly(1, 2, 0, months=3).describe() == "quarterly on day 1 at 02:00 UTC"
