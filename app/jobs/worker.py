"""The RQ worker class for this application: build the Flask app once, before forking.

RQ's default worker forks a work horse per job.  With :class:`app.jobs.AppJob` alone, each
horse builds the whole application (Flask-AppBuilder, Babel, every view) before running a
job that takes milliseconds: most of a notification job's CPU.  :class:`AppWorker` builds
the app once in the long-lived worker process; every horse inherits it through ``fork()``
and only drops the database connections it inherited (they belong to the parent).

    rq worker -u $REDIS_URL --worker-class app.jobs.worker.AppWorker \\
        --job-class app.jobs.AppJob --with-scheduler notifications default
"""
from __future__ import annotations

from rq.worker import SimpleWorker, Worker

from . import worker_app


class AppWorker(Worker):
    """A forking worker whose work horses reuse the application built at start-up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flask_app = worker_app()
        self._drop_connections(close=True)  # none may be open when the first horse forks

    def _drop_connections(self, close: bool) -> None:
        from ..extensions import db

        with self.flask_app.app_context():
            db.session.remove()
            # in a horse (close=False), leave the parent's sockets alone, just forget them
            db.engine.dispose(close=close)

    def main_work_horse(self, job, queue):
        self._drop_connections(close=False)
        return super().main_work_horse(job, queue)


class AppSimpleWorker(SimpleWorker):
    """A worker that runs every job in its own process (no fork per job): for the
    ``notifications`` queue, whose jobs are short and many, where a fork per job costs more
    CPU than the delivery itself.  A job that crashes the interpreter takes the worker with
    it (the outbox's lease and sweep recover the message); timeouts still apply."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flask_app = worker_app()
