"""Time: UTC in the database, Asia/Taipei for people (specs/privacy.md, "Dates")."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """Naive UTC now; tests may freeze it with :func:`freeze`."""
    if _frozen is not None:
        return _frozen
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def freeze(at: dt.datetime | None) -> None:
    global _frozen
    _frozen = at


def to_taipei(utc_naive: dt.datetime) -> dt.datetime:
    return utc_naive.replace(tzinfo=dt.timezone.utc).astimezone(TAIPEI)


def taipei_to_utc(local: dt.datetime) -> dt.datetime:
    if local.tzinfo is None:
        local = local.replace(tzinfo=TAIPEI)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def taipei_today(at: dt.datetime | None = None) -> dt.date:
    return to_taipei(at or now()).date()


def end_of_taipei_day(day: dt.date) -> dt.datetime:
    """23:59:59 Asia/Taipei on ``day``, as naive UTC."""
    return taipei_to_utc(dt.datetime.combine(day, dt.time(23, 59, 59)))


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def roc_year(year: int) -> int:
    return year - 1911
