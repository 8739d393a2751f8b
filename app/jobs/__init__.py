"""Scheduled workflow steps on RQ (Redis), or in-process when no Redis is configured.

* :func:`enqueue` puts a job on an RQ queue (``REDIS_URL`` set) or runs it at once in
  this process (the embedded demo and unit tests).
* :class:`AppJob` is the job class workers use: it runs every job inside an application
  context, as the system user, so jobs stay thin (open a context, call a service).
* ``app/jobs/schedule.py`` is the ONE list of periodic jobs; ``rq cron app/jobs/cron.py``
  runs them (exactly one cron process), and :func:`run_periodic_inprocess` runs the same
  list in a thread for the embedded demo.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
from typing import Any, Callable

from flask import Flask, current_app, has_app_context
from rq.job import Job

log = logging.getLogger(__name__)
_worker_app: Flask | None = None


def _resolve(func: str | Callable) -> Callable:
    if callable(func):
        return func
    module, _, name = func.rpartition(".")
    return getattr(importlib.import_module(module), name)


def redis_connection(url: str | None = None):
    from redis import Redis

    return Redis.from_url(url or current_app.config["REDIS_URL"])


def get_queue(name: str = "default"):
    from rq import Queue

    return Queue(name, connection=redis_connection(), job_class=AppJob)


def enqueue(func: str | Callable, *args, queue: str = "default", job_id: str | None = None,
            at: dt.datetime | None = None, retries: int = 0, **kwargs) -> Any:
    """Run ``func(*args, **kwargs)`` as a job.  Without Redis it runs now, in-process."""
    if not current_app.config.get("REDIS_URL"):
        return _resolve(func)(*args, **kwargs)
    from rq import Retry

    q = get_queue(queue)
    options: dict = {"job_id": job_id} if job_id else {}
    if retries:
        options["retry"] = Retry(max=retries, interval=[10, 30, 60, 120, 300][:retries])
    target = func if isinstance(func, str) else f"{func.__module__}.{func.__name__}"
    if at is not None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        return q.enqueue_at(at, target, *args, **options, **kwargs)
    return q.enqueue(target, *args, **options, **kwargs)


def worker_app() -> Flask:
    """The application workers run jobs in (created once per worker process)."""
    global _worker_app
    if _worker_app is None:
        from .. import create_app

        _worker_app = create_app()
    return _worker_app


class AppJob(Job):
    """Runs each job inside an application context (unless one is already active)."""

    def perform(self) -> Any:  # noqa: D401
        if has_app_context():
            return super().perform()
        app = worker_app()
        with app.app_context():
            from ..extensions import db

            try:
                return super().perform()
            finally:
                db.session.remove()
