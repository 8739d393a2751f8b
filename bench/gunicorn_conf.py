"""Gunicorn settings shared by the app and the baseline in every benchmark (sync workers;
the worker count is given on the command line).  The ``post_worker_init`` hook tells the
benchmark that a worker has loaded the application and can answer."""
import sys

worker_class = "sync"
timeout = 60
graceful_timeout = 5
backlog = 2048
accesslog = None
loglevel = "warning"


def post_worker_init(worker):
    print(f"BENCH-WORKER-READY {worker.pid}", file=sys.stderr, flush=True)
