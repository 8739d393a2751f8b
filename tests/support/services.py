"""Services of our own for fault tests, so stopping them never disturbs anything else:

* :class:`PrivateRedis` – a ``redis-server`` on a free port (no persistence: a kill loses
  everything in it, as a crashed Redis without AOF would);
* :class:`PrivateCluster` – a PostgreSQL cluster ``initdb``-ed into a temp folder (as the
  ``postgres`` user when we run as root), started with ``pg_ctl`` on a free port, trust auth;
* :class:`AppServer` – ``gunicorn run:app`` (sync workers, as in production) with the
  given environment;
* :func:`http` / :func:`fire` – real HTTP requests from threads, with a timeout each;
* :func:`mint_session` – a session cookie and its CSRF token made with the app's own
  session machinery (what a browser holds after logging in).

``missing_binaries()`` names what is not installed, for a clean ``pytest.skip``.
Every class cleans up after itself in ``stop()`` / ``destroy()`` (call them in ``finally``).
"""
from __future__ import annotations

from http import client as httpclient
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlencode

from . import free_port
from .workers import descendants

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


# ---------------------------------------------------------------------- binaries

def pg_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: ``PG_BIN``, the PATH, else the newest
    /usr/lib/postgresql/<version>/bin."""
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).parent)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                      reverse=True)
    for folder in candidates + versions:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _postgres_user_ok() -> bool:
    if os.geteuid() != 0:
        return True  # initdb runs as ourselves
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return shutil.which("runuser") is not None


def missing_binaries(*needed: str) -> list[str]:
    """Which of ``redis-server``, ``postgres`` (initdb/pg_ctl and a user to run them as),
    ``gunicorn`` are not available here."""
    missing = []
    for name in needed:
        if name == "redis-server" and not shutil.which("redis-server"):
            missing.append("redis-server")
        elif name == "postgres" and (pg_bin() is None or not _postgres_user_ok()):
            missing.append("initdb/pg_ctl (or the postgres user to run them as root)")
        elif name == "gunicorn" and not GUNICORN.exists():
            missing.append("gunicorn")
    return missing


def _wait(predicate: Callable[[], bool], what: str, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


# ---------------------------------------------------------------------- Redis

class PrivateRedis:
    """``redis-server`` on a free port of 127.0.0.1, without persistence."""

    def __init__(self, workdir: Path):
        self.dir = Path(workdir)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15) -> "PrivateRedis":
        log = self.dir / f"redis-{self.port}.log"
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(log),
             "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}); see {log}")
            return self.ping()

        _wait(up, f"redis-server on port {self.port}", timeout)
        return self

    def ping(self) -> bool:
        from redis import Redis
        from redis.exceptions import RedisError

        conn = Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=1)
        try:
            return bool(conn.ping())
        except (RedisError, OSError):
            return False
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL: Redis is gone at once, with everything it held (queued jobs too)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    stop = kill


# ---------------------------------------------------------------------- PostgreSQL

class PrivateCluster:
    """A throw-away PostgreSQL cluster: ``initdb`` into a temp folder, ``pg_ctl`` on a free
    port of 127.0.0.1 (trust auth, fsync off).  Run as the ``postgres`` user when we are
    root (initdb refuses root).  :meth:`destroy` stops it and deletes the folder."""

    def __init__(self):
        self.bin = pg_bin()
        if self.bin is None:
            raise RuntimeError("initdb/pg_ctl not found")
        self.root = Path(tempfile.mkdtemp(prefix="workshops-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()

    def _run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, cwd=str(self.root), capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}\n{self.log_tail()}")
        return proc

    def init(self) -> "PrivateCluster":
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "-N")
        return self

    def start(self) -> "PrivateCluster":
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c full_page_writes=off -c max_connections=60")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "-o", options, "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60",
                  "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stop the cluster (immediate mode; SIGKILL if that fails) and delete its folder."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self.stop("immediate")
            except Exception:
                try:
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


# ---------------------------------------------------------------------- the app under gunicorn

def app_environment(**settings: str) -> dict[str, str]:
    """The environment of an app or worker process: ours, without the test run's own
    database/Redis/queue settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "NOTIFY_QUEUE", "RATELIMIT_STORAGE_URI")}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    env.update({k: str(v) for k, v in settings.items()})
    return env


class AppServer:
    """``gunicorn run:app`` with sync workers on a free port; ready once every worker has
    loaded the app (tests/support/gunicorn_conf.py prints a marker)."""

    def __init__(self, env: dict[str, str], workdir: Path, workers: int = 2, name: str = "app"):
        self.env, self.workers = env, workers
        self.port = free_port()
        self.log_path = Path(workdir) / f"gunicorn-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "AppServer":
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(GUNICORN), "-c", "python:tests.support.gunicorn_conf", "-w", str(self.workers),
             "-b", f"127.0.0.1:{self.port}", "--chdir", str(ROOT), "run:app"],
            cwd=str(ROOT), env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()}")
            return self.log().count("FAULTS-WORKER-READY") >= self.workers

        _wait(ready, "gunicorn workers", timeout, 0.2)
        return self

    def worker_pids(self) -> set[int]:
        return set(descendants(self.proc.pid)) if self.proc is not None else set()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            for pid in [self.proc.pid] + descendants(self.proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(10)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------- HTTP clients

@dataclass
class Answer:
    status: int  # 0: no answer (refused, reset or timed out; see error)
    headers: dict = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    seconds: float = 0.0
    error: str = ""
    tag: object = None
    started: float = 0.0  # time.monotonic() when the request was sent


@dataclass
class Req:
    method: str
    path: str
    form: dict | None = None
    headers: dict = field(default_factory=dict)
    tag: object = None


def http(port: int, req: Req, timeout: float = 20.0) -> Answer:
    """One request on its own connection (no redirects followed)."""
    headers = {"Host": f"127.0.0.1:{port}", "User-Agent": "workshops-faults/1", **req.headers}
    body = None
    if req.form is not None:
        body = urlencode(req.form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started, t0 = time.monotonic(), time.perf_counter()
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(req.method, req.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data,
                      time.perf_counter() - t0, tag=req.tag, started=started)
    except (OSError, httpclient.HTTPException) as exc:
        return Answer(0, seconds=time.perf_counter() - t0, error=repr(exc), tag=req.tag,
                      started=started)
    finally:
        conn.close()


def fire(port: int, requests: Sequence[Req], concurrency: int,
         on_answer: Callable[[int, Answer], None] | None = None,
         timeout: float = 20.0) -> list[Answer]:
    """Send ``requests`` from ``concurrency`` threads (each takes the next one as soon as
    it has its answer); ``on_answer(n_answered, answer)`` is called after each.  Returns
    the answers in request order."""
    answers: list = [None] * len(requests)
    lock = threading.Lock()
    state = {"next": 0, "done": 0}
    gate = threading.Barrier(concurrency)

    def run():
        gate.wait()
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(requests):
                return
            answer = http(port, requests[i], timeout)
            with lock:
                answers[i] = answer
                state["done"] += 1
                done = state["done"]
            if on_answer is not None:
                on_answer(done, answer)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * (len(requests) // concurrency + 2))
    return answers


def mint_session(app, citizen_id: int | None = None, session_version: int | None = None
                 ) -> tuple[str, str]:
    """(Cookie header value, CSRF token) of a browser session made with the app's own
    session machinery: logged in as the citizen (as ``auth.log_in`` writes it) or an
    anonymous visitor.  The served app must have the same SECRET_KEY."""
    from flask import g, session
    from flask_wtf.csrf import generate_csrf

    from app.views.public.auth import SESSION_KEY, VERSION_KEY

    serializer = app.session_interface.get_signing_serializer(app)
    with app.test_request_context("/"):
        g.pop(app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)  # cached per app context
        if citizen_id is not None:
            session[SESSION_KEY] = citizen_id
            session[VERSION_KEY] = session_version
        token = generate_csrf()
        cookie = serializer.dumps(dict(session))
    return f"{app.config['SESSION_COOKIE_NAME']}={cookie}", token
