"""Shared machinery of the benchmarks: a throw-away PostgreSQL database migrated with the
project's migrations, a private Redis database, gunicorn and ``rq worker`` processes,
sessions minted with the app's own machinery, and a threaded keep-alive HTTP load client.

Nothing here is timed by itself; the benchmarks time their own phases and always print a
ratio against a baseline measured in the same run (the machine is shared and noisy).
"""
from __future__ import annotations

import datetime as dt
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_SECRET_KEY = "bench-secret-key-not-for-production-0123456789"
DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
VENUES = (("DD", "大墩文化中心", "Dadun Cultural Center"),
          ("HL", "葫蘆墩文化中心", "Huludun Cultural Center"),
          ("GQ", "港區藝術中心", "Port Area Arts Center"),
          ("TQ", "屯區藝文中心", "Tunqu Arts Center"),
          ("FC", "豐原藝文館", "Fengyuan Arts Hall"))
CATEGORIES = ("美術", "書法", "音樂", "舞蹈", "攝影", "陶藝", "語文", "手作")


def exit_on_sigterm() -> None:
    """Make SIGTERM (and SIGINT, which a shell ignores for background jobs) a normal exit,
    so the ``finally`` blocks stop gunicorn and the worker and drop the database."""
    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)


def log(*parts) -> None:
    """Progress on stderr; the RESULT line is the only thing on stdout that matters."""
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def workers_for_cores() -> int:
    """Sync workers for this machine: 2 per core (DB-bound work, PostgreSQL on the same box)."""
    return max(2, 2 * (os.cpu_count() or 1))


# ----------------------------------------------------------------------- PostgreSQL

def server_url() -> str:
    """The PostgreSQL server to create bench databases on: ``BENCH_DATABASE_URL``, else the
    server of ``DATABASE_URL`` (its database name is not used), else the local one."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if not url.startswith(("postgres://", "postgresql")):
        url = DEFAULT_SERVER_URL
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    return url


class BenchDatabase:
    """``CREATE DATABASE workshops_bench_<pid>_<rand>`` (optionally from a template), dropped
    on exit unless ``keep``."""

    def __init__(self, prefix: str = "workshops_bench", keep: bool = False,
                 template: str | None = None):
        from sqlalchemy.engine import make_url

        self.name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.keep, self.template = keep, template
        self._server = make_url(server_url())
        self.url = self._server.set(database=self.name).render_as_string(hide_password=False)

    def _admin(self):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        return create_engine(self._server.set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=NullPool)

    def create(self) -> "BenchDatabase":
        from sqlalchemy import text

        engine = self._admin()
        with engine.connect() as conn:
            extra = f' TEMPLATE "{self.template}"' if self.template else ""
            conn.execute(text(f'CREATE DATABASE "{self.name}"{extra}'))
        engine.dispose()
        return self

    def drop(self) -> None:
        from sqlalchemy import text

        if self.keep:
            log(f"kept database {self.name}")
            return
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": self.name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
        engine.dispose()

    def __enter__(self) -> "BenchDatabase":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.drop()


def app_config(db_url: str, redis_url: str, workdir: Path) -> dict:
    """Config overrides of the in-process app (setup, profiling, batch benchmarks); the
    gunicorn processes get the same values through :func:`app_env`."""
    return {
        "SQLALCHEMY_DATABASE_URI": db_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "SECRET_KEY": BENCH_SECRET_KEY,
        "NOTIFY_CHANNELS": "console",
        "NOTIFY_CONSOLE_FILE": str(workdir / "outbox.log"),
        "UPLOAD_DIR": str(workdir / "uploads"),
        "RECONCILIATION_INBOX": str(workdir / "inbox"),
        "SERVER_NAME": None,
    }


def app_env(db_url: str, redis_url: str, workdir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update({
        "PYTHONPATH": str(ROOT), "DATABASE_URL": db_url, "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "SECRET_KEY": BENCH_SECRET_KEY, "NOTIFY_CHANNELS": "console",
        "NOTIFY_CONSOLE_FILE": str(workdir / "outbox.log"), "INSTANCE_DIR": str(workdir),
        "UPLOAD_DIR": str(workdir / "uploads"), "RECONCILIATION_INBOX": str(workdir / "inbox"),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def migrated_app(db_url: str, redis_url: str, workdir: Path):
    """The project's app on the bench database, upgraded with the project's migrations."""
    import logging

    from app import create_app

    app = create_app(app_config(db_url, redis_url, workdir))
    with app.app_context():
        from flask_migrate import upgrade

        logging.disable(logging.INFO)  # alembic's env.py re-configures its loggers
        try:
            upgrade(directory=str(ROOT / "migrations"))
        finally:
            logging.disable(logging.NOTSET)
    return app


def dispose(app) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ----------------------------------------------------------------------- Redis

class PrivateRedis:
    """An empty logical Redis database of our own (claimed with a key, flushed on exit), so
    queues, RQ registries and limiter counters never mix with other runs on the server."""

    CLAIM = "workshops-bench:owner"

    def __init__(self, base: str | None = None):
        base = base or os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        self.base = re.sub(r"/\d*$", "", base.rstrip("/"))  # the server; we pick the database
        self.url = ""
        self._conn = None

    def __enter__(self) -> "PrivateRedis":
        from redis import Redis

        for n in range(15, 0, -1):
            conn = Redis.from_url(f"{self.base}/{n}")
            if conn.set(self.CLAIM, f"{os.getpid()}", nx=True, ex=6 * 3600):
                if conn.dbsize() == 1:
                    self.url, self._conn = f"{self.base}/{n}", conn
                    return self
                conn.delete(self.CLAIM)
        raise RuntimeError("no empty Redis database (1-15) is free for the benchmark")

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            self._conn.flushdb()
            self._conn.close()


# ----------------------------------------------------------------------- processes

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM the process group we created for ``proc``; SIGKILL it after ``grace``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


class Gunicorn:
    """``gunicorn -k sync -w N`` on 127.0.0.1 with the given environment.  Ready when every
    worker has loaded the app (a ``post_worker_init`` hook in bench/gunicorn_conf.py)."""

    def __init__(self, target: str, workers: int, env: dict, workdir: Path, name: str):
        self.target, self.workers, self.env, self.name = target, workers, env, name
        self.port = free_port()
        self.log_path = Path(workdir) / f"gunicorn-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> "Gunicorn":
        return self.launch().wait_ready(timeout)

    def launch(self) -> "Gunicorn":
        """Start the master (workers boot in the background; see :meth:`wait_ready`)."""
        logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:bench.gunicorn_conf", "-k", "sync",
             "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}", "--chdir", str(ROOT),
             self.target],
            cwd=str(ROOT), env=self.env, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 180) -> "Gunicorn":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn {self.name} exited:\n{self.log_tail()}")
            if self.log_path.read_text(errors="replace").count("BENCH-WORKER-READY") >= self.workers:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn {self.name} did not start in {timeout}s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return descendants(self.proc.pid) if self.proc is not None else []

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
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


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: Iterable[int], children: bool = False) -> float:
    """User + system CPU of the processes (and of their waited-for children), from /proc."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if children:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / _TICK


class CpuMeter:
    """CPU seconds spent by groups of processes between :meth:`start` and :meth:`stop`
    (less sensitive to a noisy machine than wall-clock throughput)."""

    def __init__(self):
        self.groups: dict[str, tuple] = {}
        self.used: dict[str, float] = {}

    def start(self, **groups) -> "CpuMeter":
        # name=(pids, with_children)
        self.groups = groups
        self._t0 = {k: cpu_seconds(p, c) for k, (p, c) in groups.items()}
        return self

    def stop(self) -> dict:
        self.used = {k: cpu_seconds(p, c) - self._t0[k] for k, (p, c) in self.groups.items()}
        return self.used


class RqWorker:
    """One real ``rq worker --worker-class app.jobs.worker.AppWorker --job-class app.jobs.AppJob``
    on the bench's queues (the README's command)."""

    def __init__(self, redis_url: str, queues: Sequence[str], env: dict, workdir: Path,
                 worker_class: str = ""):
        self.redis_url, self.queues, self.env = redis_url, list(queues), env
        self.extra = ["--worker-class", worker_class or "app.jobs.worker.AppWorker"]
        self.log_path = Path(workdir) / "rq-worker.log"
        self.name = f"bench-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "RqWorker":
        from redis import Redis
        from rq import Worker

        logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "rq"), "worker", "-u", self.redis_url, "--job-class", "app.jobs.AppJob",
             "--with-scheduler", "-n", self.name, *self.extra, *self.queues],
            cwd=str(ROOT), env=self.env, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        conn = Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rq worker exited:\n" + self.log_path.read_text(errors="replace"))
            if any(w.name == self.name for w in Worker.all(connection=conn)):
                return self
            time.sleep(0.2)
        raise RuntimeError("rq worker did not register:\n" + self.log_path.read_text(errors="replace"))

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, grace=20)

    def __enter__(self) -> "RqWorker":
        return self  # started explicitly with start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ----------------------------------------------------------------------- data

def bench_venues(session, *, max_courses_per_term: int = 1000, n: int = 5):
    """The five venues with one current term each (max_courses_per_term high enough that
    every bench request is a legitimate one)."""
    from app.models import Term, Venue
    from app.services import clock

    venues, terms = [], []
    start = clock.taipei_today() + dt.timedelta(days=30)
    for i, (code, name, name_en) in enumerate(VENUES[:n]):
        v = Venue(code=code, name=name, name_en=name_en, collection_code=f"{91000 + i:05d}",
                  store_item_code="TC1", max_courses_per_term=max_courses_per_term)
        session.add(v)
        session.flush()
        t = Term(venue_id=v.id, code="115S", name="115年春季班", name_en="Spring 2026",
                 starts_on=start, ends_on=start + dt.timedelta(weeks=18))
        session.add(t)
        venues.append(v)
        terms.append(t)
    session.flush()
    return venues, terms


def bulk_courses(session, venues, terms, specs: Iterable[dict], *, prefix: str = "B"):
    """Courses with one phase each, added in bulk.  Each spec: quota, mode ('first_come' or
    'lottery'), opens_at, closes_at, and optionally code/title/category/weekdays/starts_at."""
    from app.models import Course, Phase

    courses = []
    for i, spec in enumerate(specs):
        v = venues[i % len(venues)]
        t = terms[i % len(terms)]
        first = t.starts_on + dt.timedelta(days=i % 7)
        code = spec.get("code") or f"{v.code}{prefix}{i:05d}"
        c = Course(code=code, venue_id=v.id, term_id=t.id,
                   title=spec.get("title") or f"{CATEGORIES[i % len(CATEGORIES)]}研習班 {i}",
                   title_en=f"Workshop {i}", category=CATEGORIES[i % len(CATEGORIES)],
                   teacher=f"林老師{i % 37}", description="每週一次的藝文研習。",
                   room=f"{300 + i % 20}教室", weekdays=str(1 + i % 7),
                   starts_at=("09:00", "14:00", "19:00")[i % 3],
                   ends_at=("12:00", "17:00", "21:00")[i % 3], first_date=first,
                   last_date=first + dt.timedelta(weeks=17), sessions=18, quota=spec["quota"],
                   fee=2800, materials_fee=(0, 300)[i % 2], seats_taken=0)
        c.phases = [Phase(seq=1, mode=spec.get("mode", "first_come"), opens_at=spec["opens_at"],
                          closes_at=spec["closes_at"], auto_draw=spec.get("auto_draw", True))]
        courses.append(c)
    session.add_all(courses)
    session.flush()
    return courses


def bulk_citizens(session, n: int, start: int):
    """``n`` citizens with their self learner, one password hash, bulk inserted
    (tests/factories.py)."""
    from tests.factories import bulk_citizens as _bulk

    return _bulk(session, n, start=start)


def sql_citizens(session, n: int, tag: str) -> None:
    """Many more citizens (and their self learners) straight in SQL, for background data."""
    from sqlalchemy import text

    session.execute(text(
        "INSERT INTO citizen (name, national_id_enc, national_id_hash, birth_date, phone, email, "
        " password_hash, locale, notify_email, notify_sms, failed_logins, session_version, created_at) "
        "SELECT '市民' || g, 'enc-' || g, md5(:tag || g), date '1980-01-01' + (g % 9000), "
        " '09' || lpad((g % 100000000)::text, 8, '0'), :tag || g || '@example.tw', 'x', "
        " 'zh_Hant_TW', true, true, 0, 1, now() "
        "FROM generate_series(1, :n) g"), {"n": n, "tag": tag})
    session.execute(text(
        "INSERT INTO learner (citizen_id, relation, name, birth_date, created_at) "
        "SELECT c.id, 'self', c.name, c.birth_date, now() FROM citizen c "
        "WHERE c.email LIKE :pat AND NOT EXISTS (SELECT 1 FROM learner l WHERE l.citizen_id = c.id)"),
        {"pat": f"{tag}%"})


@dataclass
class Login:
    """What a logged-in browser sends: the session cookie and the CSRF form token."""

    citizen_id: int
    learner_id: int
    cookie: str
    csrf: str


def login_rows(session, citizen_ids) -> list[tuple[int, int, int]]:
    """(citizen id, session_version, self learner id) of the given citizens, in one query."""
    from sqlalchemy import select

    from app.models import Citizen, Learner

    rows = session.execute(
        select(Citizen.id, Citizen.session_version, Learner.id)
        .join(Learner, (Learner.citizen_id == Citizen.id) & (Learner.relation == "self"))
        .where(Citizen.id.in_(list(citizen_ids))).order_by(Citizen.id)).all()
    return [tuple(r) for r in rows]


def mint_logins(app, rows) -> list[Login]:
    """Session cookies minted with the app's own session machinery (no password hashing):
    ``citizen_id`` + ``citizen_sv`` as ``auth.log_in`` writes them, and the CSRF token of
    ``flask_wtf.csrf.generate_csrf`` stored in the same session.  ``rows``: see
    :func:`login_rows`."""
    from flask import g, session
    from flask_wtf.csrf import generate_csrf

    from app.views.public.auth import SESSION_KEY, VERSION_KEY

    serializer = app.session_interface.get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    field_name = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    out = []
    for citizen_id, version, learner_id in rows:
        with app.test_request_context("/"):
            g.pop(field_name, None)  # generate_csrf caches the token in g (the app context)
            session[SESSION_KEY] = citizen_id
            session[VERSION_KEY] = version
            token = generate_csrf()
            cookie = serializer.dumps(dict(session))
        out.append(Login(citizen_id, learner_id, f"{name}={cookie}", token))
    return out


# ----------------------------------------------------------------------- load client

@dataclass
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    tag: object = None


@dataclass
class Result:
    tag: object
    status: int  # 0: the connection failed
    location: str
    latency: float
    error: str = ""


@dataclass
class LoadRun:
    results: list
    elapsed: float
    concurrency: int

    @property
    def per_s(self) -> float:
        return len(self.results) / self.elapsed if self.elapsed else 0.0

    def latencies_ms(self) -> list[float]:
        return sorted(r.latency * 1000 for r in self.results if r.status)

    def pct(self, p: float) -> float:
        lat = self.latencies_ms()
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]

    @property
    def errors(self) -> int:
        return sum(1 for r in self.results if r.status == 0 or r.status >= 500)

    def statuses(self) -> dict:
        out: dict = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return dict(sorted(out.items()))


def run_load(port: int, requests: Sequence[Request], concurrency: int,
             host: str = "127.0.0.1", timeout: float = 120, min_seconds: float = 0) -> LoadRun:
    """Fire ``requests`` in order over ``concurrency`` keep-alive connections (closed loop:
    each connection sends its next request as soon as the previous one is answered).
    Gunicorn's sync workers close the connection after each response; http.client then
    reconnects for the next request, as a browser would.  With ``min_seconds`` the list is
    fired again from the start until that much time has passed (for the fast baselines)."""
    results: list = []
    counter = iter(range(10**12))
    lock = threading.Lock()
    start_gate = threading.Barrier(concurrency + 1)
    t_start = [0.0]

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        start_gate.wait()
        while True:
            with lock:
                i = next(counter)
            if i >= len(requests) and (not min_seconds
                                       or time.perf_counter() - t_start[0] >= min_seconds):
                break
            req = requests[i % len(requests)]
            headers = {"Host": f"{host}:{port}", "User-Agent": "workshops-bench/1", **req.headers}
            if req.body is not None:
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            t0 = time.perf_counter()
            try:
                conn.request(req.method, req.path, body=req.body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                res = Result(req.tag, resp.status, resp.getheader("Location") or "",
                             time.perf_counter() - t0)
            except (OSError, http.client.HTTPException) as exc:
                res = Result(req.tag, 0, "", time.perf_counter() - t0, repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            with lock:
                results.append((i, res))
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    t_start[0] = time.perf_counter()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return LoadRun([res for _, res in sorted(results, key=lambda x: x[0])], elapsed, concurrency)


class ActivitySampler:
    """Samples ``pg_stat_activity`` of one database every ``every`` seconds: what the app's
    connections are doing (running a statement, waiting on a lock, idle in a transaction
    while the app computes, idle between requests)."""

    def __init__(self, db_url: str, every: float = 0.25):
        from sqlalchemy.engine import make_url

        self.url, self.every = make_url(db_url), every
        self.counts: dict = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self):
        import psycopg

        u = self.url
        return psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                               user=u.username or "postgres", password=u.password,
                               dbname="postgres", autocommit=True)

    def backend_pids(self) -> list[int]:
        with self._connect() as conn:
            return [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                "AND backend_type = 'client backend'", (self.url.database,))]

    def _run(self) -> None:
        with self._connect() as conn:
            while not self._stop.wait(self.every):
                for state, wait in conn.execute(
                        "SELECT state, wait_event_type FROM pg_stat_activity WHERE datname = %s "
                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                        (self.url.database,)):
                    key = "lock_wait" if wait == "Lock" else {
                        "active": "running", "idle in transaction": "idle_in_tx",
                        "idle": "idle"}.get(state, state or "other")
                    self.counts[key] = self.counts.get(key, 0) + 1

    def start(self) -> "ActivitySampler":
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(5)
        total = sum(self.counts.values()) or 1
        return {k: round(v / total, 2) for k, v in sorted(self.counts.items())}


def measured_load(server: "Gunicorn", requests: Sequence[Request], concurrency: int,
                  db_url: str, others: dict | None = None,
                  min_seconds: float = 0) -> tuple[LoadRun, dict, dict]:
    """:func:`run_load` against ``server`` with the CPU seconds used meanwhile by its workers
    (``web``), their PostgreSQL backends (``db``) and ``others`` (name -> (pids, children)),
    and what the database connections were doing (share of samples)."""
    sampler = ActivitySampler(db_url)
    meter = CpuMeter().start(web=(server.worker_pids(), False), db=(sampler.backend_pids(), False),
                             **(others or {}))
    sampler.start()
    run = run_load(server.port, requests, concurrency, min_seconds=min_seconds)
    return run, meter.stop(), sampler.stop()


LOCATION_REG = re.compile(r"/my/registrations/(\d+)$")


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}"


def workdir(prefix: str) -> Path:
    """A fresh folder for the run's logs (gunicorn, rq worker, outbox); removed by
    :func:`done_with` after a successful run, kept after a failure."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-"))


def done_with(path: Path, keep: bool = False) -> None:
    import shutil

    if not keep:
        shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------- profiling

class SqlTimer:
    """Counts and times every SQL statement the app's engine runs (by statement text)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.engine, self.stats = engine, {}
        self._event = event
        self._start: list = []

    def __enter__(self) -> "SqlTimer":
        self._event.listen(self.engine, "before_cursor_execute", self._before)
        self._event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        self._event.remove(self.engine, "before_cursor_execute", self._before)
        self._event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, params, context, executemany):
        self._start.append(time.perf_counter())

    def _after(self, conn, cursor, statement, params, context, executemany):
        took = time.perf_counter() - self._start.pop()
        key = " ".join(statement.split())[:150]
        n, t = self.stats.get(key, (0, 0.0))
        self.stats[key] = (n + 1, t + took)

    def total(self) -> tuple[int, float]:
        return (sum(n for n, _ in self.stats.values()), sum(t for _, t in self.stats.values()))

    def report(self, per: int, top: int = 20) -> str:
        rows = sorted(self.stats.items(), key=lambda kv: -kv[1][1])[:top]
        lines = [f"{'calls/op':>9} {'ms/op':>8}  statement"]
        for stmt, (n, t) in rows:
            lines.append(f"{n / per:9.2f} {t / per * 1000:8.2f}  {stmt}")
        return "\n".join(lines)


def profile_requests(app, warm_requests, requests, top: int = 40) -> None:
    """Run ``requests`` in-process through the Flask test client under cProfile (CPU time,
    so waits on the database do not count); print the hottest functions and the SQL
    statements by time per request."""
    import cProfile
    import io
    import pstats
    from collections import Counter

    from app.extensions import db

    with app.app_context():
        engine = db.engine
    client = app.test_client(use_cookies=False)  # the minted Cookie header is sent as is

    def call(req):
        return client.open(req.path, method=req.method, data=req.body, headers=req.headers,
                           content_type="application/x-www-form-urlencoded" if req.body else None)

    for req in warm_requests:
        call(req)
    statuses = Counter()
    prof = cProfile.Profile(time.process_time)
    with SqlTimer(engine) as sql:
        t0 = time.perf_counter()
        prof.enable()
        for req in requests:
            statuses[call(req).status_code] += 1
        prof.disable()
        elapsed = time.perf_counter() - t0
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top // 2)
    print(out.getvalue())
    n = max(len(requests), 1)
    count, took = sql.total()
    print(sql.report(n))
    print(f"PROFILE requests={len(requests)} statuses={dict(statuses)} ms_per_req={elapsed / n * 1000:.1f} "
          f"sql_per_req={count / n:.1f} sql_ms_per_req={took / n * 1000:.1f}")
