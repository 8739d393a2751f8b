"""The embedded demo's scheduler: the PERIODIC list run in a thread, every minute.

Only one process runs it (an exclusive lock file under the instance folder), so several
gunicorn workers do not all run the jobs."""
from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import threading
import time

from croniter import croniter

from ..services import clock
from . import _resolve
from .schedule import PERIODIC

log = logging.getLogger(__name__)


def start(app) -> threading.Thread | None:
    lock_path = os.path.join(app.instance_path, "scheduler.lock")
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    handle = open(lock_path, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    thread = threading.Thread(target=_loop, args=(app, handle), daemon=True, name="scheduler")
    thread.start()
    return thread


def _loop(app, handle) -> None:  # pragma: no cover - exercised by the demo
    last = dt.datetime.now(clock.TAIPEI).replace(second=0, microsecond=0)
    while True:
        time.sleep(5)
        now = dt.datetime.now(clock.TAIPEI).replace(second=0, microsecond=0)
        if now <= last:
            continue
        for periodic in PERIODIC:
            if croniter.match(periodic.cron, now):
                with app.app_context():
                    from ..extensions import db

                    try:
                        _resolve(periodic.func)()
                        db.session.commit()
                    except Exception:
                        db.session.rollback()
                        log.exception("periodic job %s failed", periodic.id)
                    finally:
                        db.session.remove()
        last = now
