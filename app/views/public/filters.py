"""Template filters: dates in Asia/Taipei with ROC years on Chinese pages, money, weekdays."""
from __future__ import annotations

import datetime as dt

from flask import Flask
from flask_babel import gettext as _, lazy_gettext as _l

from ...services import clock

WEEKDAYS = {1: _l("Mon"), 2: _l("Tue"), 3: _l("Wed"), 4: _l("Thu"), 5: _l("Fri"), 6: _l("Sat"),
            7: _l("Sun")}
WEEKDAYS_LONG = {1: _l("Monday"), 2: _l("Tuesday"), 3: _l("Wednesday"), 4: _l("Thursday"),
                 5: _l("Friday"), 6: _l("Saturday"), 7: _l("Sunday")}


def _is_zh() -> bool:
    from ... import select_locale

    return select_locale().startswith("zh")


def format_date(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = clock.to_taipei(value).date()
    if _is_zh():
        return f"民國{clock.roc_year(value.year)}年{value.month}月{value.day}日（{value.isoformat()}）"
    return value.isoformat()


def format_datetime(value) -> str:
    if value is None:
        return ""
    local = clock.to_taipei(value)
    if _is_zh():
        return (f"民國{clock.roc_year(local.year)}年{local.month}月{local.day}日 "
                f"{local:%H:%M}")
    return f"{local:%Y-%m-%d %H:%M} (Taipei)"


def money(value) -> str:
    return f"NT${int(value or 0):,}"


def weekdays(value: str, long: bool = False) -> str:
    table = WEEKDAYS_LONG if long else WEEKDAYS
    names = [str(table[int(d)]) for d in (value or "").split(",") if d.strip().isdigit()
             and int(d) in table]
    return _("、").join(names) if _is_zh() else ", ".join(names)


def register(app: Flask) -> None:
    app.add_template_filter(format_date, "date_tw")
    app.add_template_filter(format_datetime, "datetime_tw")
    app.add_template_filter(money, "money")
    app.add_template_filter(weekdays, "weekdays")
