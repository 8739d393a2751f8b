"""The RQ side of notification delivery: the job, and handing a row to RQ.

* :func:`deliver_notification` is the job (thin: it calls ``delivery.deliver``).
* :func:`dispatch` enqueues it on the ``NOTIFY_QUEUE`` queue (default
  ``notifications``) with one job id per row *and attempt*
  (``deliver-<database>-<row id>-<attempts so far>``) as an RQ unique job: a second
  dispatch of the same attempt (after-commit hook and sweep racing, two sweeps) is
  refused by Redis, while the next attempt after a killed worker gets a new id.  The
  database name, in the id and as an argument the worker checks, keeps two databases
  sharing one Redis apart.  Jobs leave nothing behind on success (``result_ttl=0``).
* Without ``REDIS_URL`` the row is delivered right here, synchronously (the demo);
  a retry due later is left to the sweep.
* If Redis cannot be reached the dispatch is logged and dropped: the row stays
  ``pending`` in the database and the next sweep hands it on.  Nobody's request fails.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re

from flask import current_app

from ..services import clock, delivery
from ..services.channels import setting

log = logging.getLogger(__name__)

JOB_FUNC = "app.jobs.delivery_jobs.deliver_notification"
_connections: dict = {}


def deliver_notification(notification_id: int, database: str | None = None) -> str:
    """RQ job: deliver one outbox row (safe to run twice, or concurrently).

    ``database`` is the name of the database the row lives in: a worker connected to
    another database (two environments sharing one Redis) leaves the job alone."""
    if database is not None and database != database_name():
        log.warning("job for notification %s of database %s ignored by a worker of %s",
                    notification_id, database, database_name())
        return "wrong-database"
    return delivery.deliver(notification_id)


def queue_name() -> str:
    return setting("NOTIFY_QUEUE", "notifications", str)


def database_name() -> str:
    """The database's name, made safe for job ids."""
    from ..extensions import db

    database = os.path.basename(db.engine.url.database or "db")
    return re.sub(r"[^A-Za-z0-9_]+", "_", database)[-48:]


def job_id(notification_id: int, attempts: int) -> str:
    return f"deliver-{database_name()}-{notification_id}-{attempts}"


def _redis(url: str):
    """One connection pool per URL, with short timeouts (a dead Redis must not hang
    the request that just committed)."""
    conn = _connections.get(url)
    if conn is None:
        from redis import Redis

        conn = _connections[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return conn


def dispatch(notification_id: int, attempts: int, at: dt.datetime | None = None) -> str:
    """Hand a row to RQ (now, or at ``at``: naive UTC).  Returns ``queued``,
    ``scheduled``, ``duplicate``, ``unavailable`` or, without Redis, the outcome of
    delivering it in-process (``later`` if it is not due yet)."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        if at is not None and at > clock.now():
            return "later"
        return delivery.deliver(notification_id)

    from redis.exceptions import RedisError
    from rq import Queue
    from rq.exceptions import DuplicateJobError

    from . import AppJob

    options = dict(job_id=job_id(notification_id, attempts), unique=True, result_ttl=0,
                   failure_ttl=int(delivery.lease().total_seconds()),
                   job_timeout=int(2 * setting("NOTIFY_SEND_TIMEOUT", 10, float)) + 60,
                   description=f"deliver notification {notification_id}")
    try:
        queue = Queue(queue_name(), connection=_redis(url), job_class=AppJob)
        if at is not None:
            queue.enqueue_at(at.replace(tzinfo=dt.timezone.utc), JOB_FUNC, notification_id,
                             database_name(), **options)
            return "scheduled"
        queue.enqueue(JOB_FUNC, notification_id, database_name(), **options)
        return "queued"
    except DuplicateJobError:
        return "duplicate"
    except (RedisError, OSError) as exc:
        log.warning("Redis unavailable, notification %s left for the sweep: %s", notification_id, exc)
        return "unavailable"
