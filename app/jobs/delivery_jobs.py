"""The RQ side of notification delivery: the job, and handing a row to RQ.

* :func:`deliver_notification` is the job (thin: it calls ``delivery.deliver``).
* :func:`dispatch` enqueues it on the ``NOTIFY_QUEUE`` queue (default
  ``notifications``) with one job id per row *and attempt*
  (``deliver-<database>-<row id>-<attempts so far>``) as an RQ unique job: a second
  dispatch of the same attempt (after-commit hook and sweep racing, two sweeps) is
  refused by Redis, while the next attempt after a killed worker gets a new id.  The
  database name, in the id and as an argument the worker checks, keeps two databases
  sharing one Redis apart.  Jobs leave nothing behind on success (``result_ttl=0``).
* :func:`dispatch_many` hands a whole committed batch (a lottery draw's notices) to RQ in
  two Redis round trips: one to leave out ids already queued, one pipeline of jobs.
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
            # RQ's scheduler keeps whole seconds (truncated): round up, or the job may run
            # before the row is due, find nothing to do and leave it to the next sweep.
            if at.microsecond:
                at = at.replace(microsecond=0) + dt.timedelta(seconds=1)
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


def dispatch_many(notification_ids, chunk: int = 500) -> str:
    """Hand freshly committed rows (attempt 0) to RQ in pipelines of ``chunk`` jobs.

    Returns ``queued`` or ``unavailable`` (Redis down: the sweep hands them on later).
    Ids whose job already exists (the sweep got there first) are left out; in the tiny
    window between that check and the pipeline a job may be queued twice, which is
    harmless: delivery claims the row, and the second run finds it taken."""
    ids = sorted(notification_ids)
    url = current_app.config.get("REDIS_URL")
    if not url or len(ids) == 1:
        outcome = "queued"
        for notification_id in ids:
            outcome = dispatch(notification_id, 0)
            if outcome == "unavailable":
                break
        return outcome

    from redis.exceptions import RedisError
    from rq import Queue

    from . import AppJob

    conn, database = _redis(url), database_name()
    options = dict(result_ttl=0, failure_ttl=int(delivery.lease().total_seconds()),
                   timeout=int(2 * setting("NOTIFY_SEND_TIMEOUT", 10, float)) + 60)
    try:
        queue = Queue(queue_name(), connection=conn, job_class=AppJob)
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            with conn.pipeline(transaction=False) as pipe:
                for notification_id in part:
                    pipe.exists(AppJob.key_for(job_id(notification_id, 0)))
                taken = pipe.execute()
            fresh = [n for n, exists in zip(part, taken) if not exists]
            if fresh:
                queue.enqueue_many([Queue.prepare_data(
                    JOB_FUNC, (n, database), job_id=job_id(n, 0),
                    description=f"deliver notification {n}", **options) for n in fresh])
        return "queued"
    except (RedisError, OSError) as exc:
        log.warning("Redis unavailable, %s notifications left for the sweep: %s", len(ids), exc)
        return "unavailable"
