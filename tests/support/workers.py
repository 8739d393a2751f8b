"""Real ``rq worker`` processes for tests, on their own queue so parallel test runs and
other suites sharing the Redis server do not take each other's jobs.

    workers = RqWorkers(redis_url, queue, env={...})
    proc = workers.start()          # (or start_many(n)) rq worker -u URL --job-class app.jobs.AppJob --with-scheduler QUEUE
    workers.kill(proc)              # SIGKILL the worker, its work horse and its scheduler
    workers.stop_all()              # SIGTERM (warm shutdown), SIGKILL after a grace period
    workers.cleanup_redis(prefix)   # delete this queue's keys and the jobs whose id starts with prefix

Each worker runs with the project root on PYTHONPATH and the given environment
(DATABASE_URL of the test database, MAIL_*/SMS_* of the local servers …)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RQ = str(Path(sys.executable).with_name("rq"))


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class RqWorkers:
    def __init__(self, redis_url: str, queue: str, env: dict[str, str], log_dir: Path):
        self.redis_url, self.queue, self.log_dir = redis_url, queue, Path(log_dir)
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": redis_url,
                    "NOTIFY_QUEUE": queue, **env}
        self.procs: list[subprocess.Popen] = []
        self._n = 0
        self.worker_class = "app.jobs.worker.AppWorker"  # or app.jobs.worker.AppSimpleWorker

    def start(self) -> subprocess.Popen:
        return self.start_many(1)[0]

    def start_many(self, n: int) -> list[subprocess.Popen]:
        """Start ``n`` workers at once and wait until each has registered in Redis."""
        procs = [self._spawn() for _ in range(n)]
        for proc in procs:
            self.wait_registered(proc.name)
        return procs

    def _spawn(self) -> subprocess.Popen:
        self._n += 1
        name = f"{self.queue}-w{self._n}"
        log = open(self.log_dir / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [RQ, "worker", "-u", self.redis_url, "--worker-class", self.worker_class,
             "--job-class", "app.jobs.AppJob",
             "--with-scheduler", "-n", name, self.queue],
            cwd=str(ROOT), env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # Ctrl-C in the test run does not hit the workers
        proc.name, proc.log_path = name, self.log_dir / f"{name}.log"
        self.procs.append(proc)
        return proc

    def wait_registered(self, name: str, timeout: float = 30) -> None:
        from redis import Redis
        from rq import Worker

        conn = Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(w.name == name for w in Worker.all(connection=conn)):
                return
            time.sleep(0.1)
        raise RuntimeError(f"rq worker {name} did not start; see {self.log_dir}")

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the worker, its work horse and its scheduler at once: no cleanup, no
        chance to finish the job (like a crashed machine).  RQ starts the work horse in
        a session of its own, so the process group is not enough: every descendant is
        found through /proc."""
        for pid in [proc.pid] + descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(10)

    def stop_all(self, grace: float = 10) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)  # warm shutdown: finishes its job
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(proc)
        self.procs.clear()

    def logs(self) -> str:
        out = []
        for path in sorted(self.log_dir.glob(f"{self.queue}-w*.log")):
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(out)

    def cleanup_redis(self, job_prefix: str) -> None:
        """Delete only what belongs to this queue and these jobs (never FLUSHALL)."""
        from redis import Redis

        conn = Redis.from_url(self.redis_url)
        for pattern in (f"rq:*{self.queue}*", f"rq:job:{job_prefix}*", f"rq:results:{job_prefix}*",
                        f"rq:execution*:{job_prefix}*"):
            for key in conn.scan_iter(match=pattern, count=500):
                conn.delete(key)
