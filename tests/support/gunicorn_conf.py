"""Gunicorn settings of the fault tests (tests/support/services.py): sync workers as in
production (README), a short worker timeout (a request hung on a dead service is killed
and shows up as a worker restart), and a marker line once a worker has loaded the app."""
import sys

worker_class = "sync"
timeout = 30
graceful_timeout = 3
backlog = 512
accesslog = None
loglevel = "warning"


def post_worker_init(worker):
    print(f"FAULTS-WORKER-READY {worker.pid}", file=sys.stderr, flush=True)
