"""When a job is due: a period is the span a job runs once in, identified by its start.

Every period answers two questions for a moment `now` (UTC): when did the current period
start, and when does the next one start. The worker runs a job when the current period's
start is newer than the last period recorded in `job_runs`, so a worker that was down
catches up once (not once per missed period) as soon as it comes back.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday, so weekly arithmetic lines up


class Period(abc.ABC):
    @abc.abstractmethod
    def start(self, now: datetime) -> datetime: ...

    @abc.abstractmethod
    def next_start(self, now: datetime) -> datetime: ...

    @abc.abstractmethod
    def describe(self) -> str: ...


@dataclass(frozen=True)
class Every(Period):
    """Fixed-length periods aligned to the epoch: `Every(seconds=300)` starts at :00, :05..."""

    seconds: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("a period must be longer than zero seconds")

    def start(self, now: datetime) -> datetime:
        elapsed = (now - _EPOCH).total_seconds()
        return _EPOCH + timedelta(seconds=(elapsed // self.seconds) * self.seconds)

    def next_start(self, now: datetime) -> datetime:
        return self.start(now) + timedelta(seconds=self.seconds)

    def describe(self) -> str:
        s = self.seconds
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if s >= size and s % size == 0:
                n = int(s // size)
                return f"every {unit}" if n == 1 else f"every {n} {unit}s"
        return f"every {s:g} seconds"


@dataclass(frozen=True)
class Daily(Period):
    """Once a day from hour:minute UTC."""

    hour: int = 0
    minute: int = 0

    def start(self, now: datetime) -> datetime:
        at = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        return at if at <= now else at - timedelta(days=1)

    def next_start(self, now: datetime) -> datetime:
        return self.start(now) + timedelta(days=1)

    def describe(self) -> str:
        return f"daily at {self.hour:02d}:{self.minute:02d} UTC"


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Weekly(Period):
    """Once a week from weekday (0 = Monday) hour:minute UTC."""

    weekday: int = 0
    hour: int = 0
    minute: int = 0

    def start(self, now: datetime) -> datetime:
        day = now - timedelta(days=(now.weekday() - self.weekday) % 7)
        at = day.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        return at if at <= now else at - timedelta(days=7)

    def next_start(self, now: datetime) -> datetime:
        return self.start(now) + timedelta(days=7)

    def describe(self) -> str:
        return f"weekly on {_WEEKDAYS[self.weekday]} at {self.hour:02d}:{self.minute:02d} UTC"


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


@dataclass(frozen=True)
class Monthly(Period):
    """Once every `months` months (3 = quarterly, from January), on `day` at hour:minute UTC.

    `day` is capped at 28 so every month has it.
    """

    day: int = 1
    hour: int = 0
    minute: int = 0
    months: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.day <= 28:
            raise ValueError("day must be 1..28")
        if self.months not in (1, 2, 3, 4, 6, 12):
            raise ValueError("months must divide the year")

    def start(self, now: datetime) -> datetime:
        first_month = (now.month - 1) // self.months * self.months + 1
        at = now.replace(
            month=first_month, day=self.day, hour=self.hour, minute=self.minute,
            second=0, microsecond=0,
        )
        return at if at <= now else _add_months(at, -self.months)

    def next_start(self, now: datetime) -> datetime:
        return _add_months(self.start(now), self.months)

    def describe(self) -> str:
        every = {1: "monthly", 3: "quarterly", 12: "yearly"}.get(
            self.months, f"every {self.months} months"
        )
        return f"{every} on day {self.day} at {self.hour:02d}:{self.minute:02d} UTC"


def utcnow() -> datetime:
    return datetime.now(UTC)
