"""Shared model helpers: the declarative base and UTC time."""
from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model  # noqa: F401  (re-exported: the one declarative base)


def utcnow() -> dt.datetime:
    """Naive UTC timestamp: every datetime column stores UTC (privacy.md, "Dates")."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
