"""Faults, as tests: real processes, real outages.

* Redis killed in the middle of a registration rush against gunicorn: every request is
  answered normally, each registration has its outbox rows; after Redis is back a real
  ``rq worker`` and the real sweep job deliver every message exactly once (counted at a
  real SMTP server and a real Mitake-shaped SMS gateway).
* An ``rq worker`` SIGKILLed in the middle of a workflow job (the lottery draw; the
  forfeit of overdue registrations with waitlist promotion), blocked half-way through
  its transaction: after a new worker runs the next scheduled run, the effect exists
  exactly once (draw, seats, events, slips, audit entries, messages).
* PostgreSQL restarted under load: clients get a normal answer or 503 with Retry-After,
  nothing hangs, no registration is half-written, and the same gunicorn workers serve
  normally once the database is back (also right after a restart nobody noticed).
* A connection the server ended after a request used it does not fail the request's end.

Each test runs its own ``redis-server`` and (for the restart) its own PostgreSQL cluster,
never the shared servers other test runs use.  Skipped only when a binary is missing.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import bindparam, func, select, text

from app.models import Course, Notification, Registration
from tests.factories import bulk_citizens

from .support.mitake import MitakeGateway
from .support.services import (Answer, AppServer, PrivateCluster, PrivateRedis, Req, app_environment,
                               fire, http, mint_session, missing_binaries)
from .support.smtp import SmtpSink
from .support.workers import RqWorkers

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(240)
REG_LOCATION = re.compile(r"/my/registrations/(\d+)$")


def _need(*binaries: str) -> None:
    missing = missing_binaries(*binaries)
    if missing:
        pytest.skip("not installed: " + ", ".join(missing))


def _on_postgresql(app) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("faults are proven on PostgreSQL (DATABASE_URL)")


def _wait(predicate, what: str, timeout: float, interval: float = 0.2, detail=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{detail()}")


def cron_tick(redis_url: str, name: str):
    """Enqueue the periodic job ``name`` exactly as ``rq cron app/jobs/cron.py`` does at
    its next tick (the same CronJob, queue and options), without waiting for the minute."""
    from redis import Redis
    from rq.cron import CronScheduler

    conn = Redis.from_url(redis_url)
    scheduler = CronScheduler(connection=conn)
    scheduler.load_config_from_file("app/jobs/cron.py")
    [job] = [j for j in scheduler.get_jobs() if j.name == name]
    return job.enqueue(conn)


def _no_tracebacks(server: AppServer) -> None:
    log = server.log()
    assert "Traceback" not in log and "WORKER TIMEOUT" not in log, log[-6000:]


# ---------------------------------------------------------------------------------------
# 1. Redis killed during a registration rush

def test_redis_killed_during_a_rush_loses_no_registration_and_no_message(app, db, tmp_path, make):
    _on_postgresql(app)
    _need("redis-server", "gunicorn")
    quota, n_people, kill_after, n_logins = 10, 40, 12, 6
    smtp, gateway = SmtpSink().start(), MitakeGateway().start()
    redis = PrivateRedis(tmp_path)
    server = workers = None
    try:
        redis.start()
        course = make.course(make.venue(), quota=quota)
        make.commit()
        people = bulk_citizens(db.session, n_people + n_logins, start=810000)
        rushing, logging_in = people[:n_people], people[n_people:]
        env = app_environment(
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis.url,
            RATELIMIT_STORAGE_URI=redis.url, SECRET_KEY=app.config["SECRET_KEY"],
            INSTANCE_DIR=tmp_path / "instance", NOTIFY_QUEUE="notifications",
            NOTIFY_CHANNELS="email,sms", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
            MAIL_DEFAULT_SENDER="workshops@arts.taichung.example", SMS_GATEWAY_URL=gateway.url,
            SMS_USERNAME=gateway.username, SMS_PASSWORD=gateway.password,
            NOTIFY_SEND_TIMEOUT="2", NOTIFY_LEASE_SECONDS="6", NOTIFY_RETRY_BASE_SECONDS="1")
        server = AppServer(env, tmp_path).start()
        pids = server.worker_pids()
        workers = RqWorkers(redis.url, "notifications", env, tmp_path)
        workers.start()  # delivering while the rush starts

        requests = []
        for person in rushing:
            cookie, token = mint_session(app, person.id, person.session_version)
            requests.append(Req("POST", f"/courses/{course.code}/register",
                                {"csrf_token": token}, {"Cookie": cookie}, tag=("register", person.id)))
        # At the end of the rush (Redis is down by then): log-ins (rate limited on Redis)
        # and catalogue reads.
        for person in logging_in:
            cookie, token = mint_session(app)
            requests.append(Req("POST", "/account/login", {"csrf_token": token, "email": person.email,
                                                           "password": "Secret-pass-2026"},
                                {"Cookie": cookie}, tag=("login", person.id)))
        requests += [Req("GET", f"/courses/{course.code}", tag=("read", None)),
                     Req("GET", "/", tag=("read", None))]
        killed_at = []

        def kill_redis(done, answer):
            if done == kill_after:
                redis.kill()
                killed_at.append(done)

        answers = fire(server.port, requests, concurrency=8, on_answer=kill_redis)
        assert killed_at == [kill_after] and not redis.ping()

        # Every request was answered normally, Redis or not.
        statuses = Counter((a.tag[0], a.status) for a in answers)
        assert statuses == {("register", 302): n_people, ("login", 302): n_logins,
                            ("read", 200): 2}, (statuses, [a.error or a.body[:300] for a in answers
                                                           if a.status not in (200, 302)])
        reg_ids = {int(REG_LOCATION.search(a.headers["location"]).group(1))
                   for a in answers if a.tag[0] == "register"}
        assert len(reg_ids) == n_people
        db.session.expire_all()
        regs = db.session.execute(select(Registration.id, Registration.state, Registration.citizen_id)
                                  .where(Registration.course_id == course.id)).all()
        assert {r.id for r in regs} == reg_ids
        assert sorted(r.citizen_id for r in regs) == sorted(p.id for p in rushing)
        assert Counter(r.state for r in regs) == {"admitted": quota, "waitlisted": n_people - quota}
        assert db.session.get(Course, course.id).seats_taken == quota
        # Exactly one outbox row per registration and channel, for the event that happened.
        rows = db.session.execute(select(Notification.registration_id, Notification.event,
                                         Notification.channel, Notification.status)).all()
        state_of = {r.id: r.state for r in regs}
        assert Counter((r.registration_id, r.event, r.channel) for r in rows) == {
            (rid, state, ch): 1 for rid, state in state_of.items() for ch in ("email", "sms")}
        stranded = sum(r.status != "sent" for r in rows)
        assert stranded > 0  # the messages of the registrations after the kill
        db.session.rollback()

        # Redis comes back (empty: the jobs it held are lost); a new worker starts and the
        # periodic sweep (as rq cron enqueues it) hands every stranded message on.
        redis.start()
        workers.start()

        def all_sent() -> bool:
            db.session.rollback()
            left = db.session.execute(select(func.count()).select_from(Notification)
                                      .where(Notification.status != "sent")).scalar()
            db.session.rollback()
            if left:
                cron_tick(redis.url, "sweep-outbox")
            return left == 0

        _wait(all_sent, "every message sent", 60, interval=2,
              detail=lambda: workers.logs() + redis_log(redis))
        time.sleep(1.5)  # any stray duplicate job would run now
        for person in rushing:
            assert len(smtp.to(person.email)) == 1, person.email
            assert len(gateway.to(person.phone)) == 1, person.phone
        assert len(smtp.messages) == n_people and len(gateway.delivered) == n_people
        assert server.worker_pids() == pids  # no gunicorn worker died or was restarted
        _no_tracebacks(server)
        print(f"\nredis killed after {kill_after} answers; {stranded} of {len(rows)} messages "
              "stranded, all delivered once after the restart")
    finally:
        if workers is not None:
            workers.stop_all(grace=5)
        if server is not None:
            server.stop()
        redis.stop()
        smtp.stop()
        gateway.stop()


def redis_log(redis: PrivateRedis) -> str:
    return "\n".join(p.read_text(errors="replace")[-2000:] for p in redis.dir.glob("redis-*.log"))


# ---------------------------------------------------------------------------------------
# 2. An rq worker killed in the middle of a workflow job

@pytest.fixture()
def job_rig(app, tmp_path):
    """A private Redis, real workers for the ``default`` queue (workflow jobs) and for
    ``notifications`` (delivery to the console file), all on the test database."""
    _on_postgresql(app)
    _need("redis-server")
    from types import SimpleNamespace

    redis = PrivateRedis(tmp_path).start()
    outbox = tmp_path / "outbox.log"
    env = app_environment(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis.url,
        RATELIMIT_STORAGE_URI=redis.url, INSTANCE_DIR=tmp_path / "instance",
        NOTIFY_QUEUE="notifications", NOTIFY_CHANNELS="console", NOTIFY_CONSOLE_FILE=outbox)
    rig = SimpleNamespace(redis=redis, outbox=outbox,
                          jobs=RqWorkers(redis.url, "default", env, tmp_path),
                          deliveries=RqWorkers(redis.url, "notifications", env, tmp_path))
    try:
        yield rig
    finally:
        rig.jobs.stop_all(grace=5)
        rig.deliveries.stop_all(grace=5)
        redis.stop()


def _lock_waiters(db, statement: str) -> list[int]:
    """Backends of the test database waiting for a row lock while running ``statement…``."""
    with db.engine.connect() as conn:
        return conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE :q"), {"q": statement + "%"}).scalars().all()


def _backend_alive(db, pid: int) -> bool:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                            {"p": pid}).scalar() == 1


def _wait_job(job, timeout: float = 60):
    _wait(lambda: job.get_status(refresh=True) in ("finished", "failed"), f"job {job.id}", timeout)
    assert job.get_status() == "finished", job.latest_result()
    return job.return_value()


def _committed(db, sql: str, **params):
    db.session.rollback()
    rows = db.session.execute(text(sql), params).all()
    db.session.rollback()
    return rows


def _kill_mid_job(db, rig, job_name: str, lock_sql: str, params: dict, blocked_on: str,
                  while_blocked=lambda: None):
    """A clerk's transaction locks a row (``lock_sql``); the periodic job ``job_name`` is
    enqueued as rq cron does and runs on a real worker until it waits for that row
    (running ``blocked_on…``, its own transaction open with work done); the worker and
    its work horse are SIGKILLed there.  The clerk then lets go, and the dead worker's
    transaction ends (PostgreSQL rolls it back).  Returns ``while_blocked()``."""
    worker = rig.jobs.start()
    clerk = db.engine.connect()
    tx = clerk.begin()
    try:
        clerk.execute(text(lock_sql), params)
        killed = cron_tick(rig.redis.url, job_name)
        _wait(lambda: _lock_waiters(db, blocked_on), f"{job_name} to wait for the locked row", 60,
              detail=rig.jobs.logs)
        [orphan] = _lock_waiters(db, blocked_on)
        seen = while_blocked()
        rig.jobs.kill(worker)
    finally:
        tx.rollback()
        clerk.close()
    _wait(lambda: not _backend_alive(db, orphan), "the killed worker's transaction to end", 30)
    # RQ does not run the abandoned job again by itself: no Retry on cron jobs, and the
    # started-job registry expires it only minutes later.  The next scheduled run does.
    assert killed.get_status(refresh=True) == "started"
    rig.jobs.start()
    return seen


def _console_ids(path: Path) -> Counter:
    """Notification id -> how many times it reached the console channel file."""
    data = path.read_text() if path.exists() else ""
    return Counter(int(n) for n in re.findall(r"\[console-(\d+)-", data))


def test_worker_killed_in_the_middle_of_the_draw_draws_each_lottery_once(app, db, make, job_rig):
    """Two lotteries are due.  The draw job commits the first, then (drawing the second)
    waits for a registration row a clerk holds locked, with the seats already taken and
    half the applicants admitted in its open transaction: the worker is SIGKILLed there.
    RQ does not run an abandoned job again (no Retry on cron jobs; the started-job
    registry only expires it minutes later): the next scheduled run does, and every
    effect exists exactly once."""
    from app.models import AuditEntry, PaymentSlip, Phase, RegistrationEvent
    from app.services import clock, lottery, registration
    from app.services.audit import Actor

    quota, per_course = 4, 10
    now, hour = clock.now(), dt.timedelta(hours=1)
    venue = make.venue()
    courses = [make.course(venue, quota=quota, phases=[
        {"mode": "lottery", "opens_at": now - hour, "closes_at": now + hour}]) for _ in range(2)]
    make.commit()
    people = bulk_citizens(db.session, 2 * per_course, start=820000)
    for i, person in enumerate(people):
        registration.apply(db.session, courses[i // per_course], person, None, Actor())
    db.session.commit()
    course_ids = [c.id for c in courses]
    phase_ids = [c.phases[0].id for c in courses]
    db.session.execute(text("UPDATE phase SET closes_at = :t WHERE id IN :ids")
                       .bindparams(bindparam("ids", expanding=True)),
                       {"t": now - dt.timedelta(minutes=1), "ids": phase_ids})
    db.session.commit()
    victim = db.session.execute(select(func.max(Registration.id))
                                .where(Registration.course_id == course_ids[1])).scalar()

    job_rig.deliveries.start()
    drawn_before = _kill_mid_job(
        db, job_rig, "draw-due-lotteries", "SELECT id FROM registration WHERE id = :r FOR UPDATE",
        {"r": victim}, "UPDATE registration",
        lambda: {pid for (pid,) in _committed(
            db, "SELECT id FROM phase WHERE id IN (:a, :b) AND drawn_at IS NOT NULL",
            a=phase_ids[0], b=phase_ids[1])})

    def snapshot():
        return {cid: _committed(db, "SELECT c.seats_taken, p.seats_filled, p.drawn_at IS NOT NULL, "
                                "(SELECT count(*) FROM registration r WHERE r.course_id = c.id "
                                " AND r.state <> 'applied') FROM course c JOIN phase p "
                                "ON p.course_id = c.id WHERE c.id = :c", c=cid)[0]
                for cid in course_ids}

    for cid, pid in zip(course_ids, phase_ids):  # nothing half-done survived the kill
        expect = (quota, quota, True, per_course) if pid in drawn_before else (0, 0, False, 0)
        assert tuple(snapshot()[cid]) == expect, (cid, snapshot())
    assert drawn_before != set(phase_ids)  # the kill did interrupt a draw

    assert _wait_job(cron_tick(job_rig.redis.url, "draw-due-lotteries")) == 2 - len(drawn_before)
    assert _wait_job(cron_tick(job_rig.redis.url, "draw-due-lotteries")) == 0  # and again: nothing

    db.session.expire_all()
    draw_notes = []
    for cid, pid in zip(course_ids, phase_ids):
        phase, course = db.session.get(Phase, pid), db.session.get(Course, cid)
        regs = db.session.execute(select(Registration).where(Registration.course_id == cid)).scalars().all()
        states = Counter(r.state for r in regs)
        assert states == {"admitted": quota, "waitlisted": per_course - quota}
        assert (course.seats_taken, phase.seats_filled) == (quota, quota)
        assert len({r.ticket for r in regs}) == per_course and None not in {r.ticket for r in regs}
        record = json.loads(phase.draw_record)
        assert {e["entry_no"] for e in record["entries"] if e["outcome"] == lottery.ADMITTED} == {
            r.entry_no for r in regs if r.state == "admitted"}
        assert db.session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.event == "lottery_draw", AuditEntry.target == f"phase:{pid}")).scalar() == 1
        for reg in regs:
            events = db.session.execute(select(RegistrationEvent.from_state, RegistrationEvent.to_state)
                                        .where(RegistrationEvent.registration_id == reg.id)
                                        .order_by(RegistrationEvent.id)).all()
            assert [tuple(e) for e in events] == [(None, "applied"), ("applied", reg.state)]
            slips = db.session.execute(select(PaymentSlip.status).where(
                PaymentSlip.registration_id == reg.id)).scalars().all()
            assert slips == (["open"] if reg.state == "admitted" else [])
            notes = db.session.execute(select(Notification.id, Notification.event, Notification.channel)
                                       .where(Notification.registration_id == reg.id)).all()
            assert Counter((n.event, n.channel) for n in notes) == {
                (ev, ch): 1 for ev in ("registration_received", reg.state) for ch in ("email", "sms")}
            draw_notes += [n.id for n in notes if n.event == reg.state]
    db.session.rollback()

    # Each message of the draw reached the console channel once.
    _wait(lambda: set(_console_ids(job_rig.outbox)) >= set(draw_notes), "the draw's messages", 60,
          detail=job_rig.deliveries.logs)
    time.sleep(1)
    assert _console_ids(job_rig.outbox) == {nid: 1 for nid in draw_notes}
    print(f"\nworker killed with {len(drawn_before)} of 2 draws committed; the next run drew "
          f"{2 - len(drawn_before)}, {len(draw_notes)} messages delivered once")


def test_worker_killed_in_the_middle_of_forfeits_forfeits_and_promotes_each_once(app, db, make, job_rig):
    """``forfeit_overdue`` commits one registration at a time (forfeited, its seat given
    back, the first of the waitlist promoted).  The worker is killed while it forfeits in
    the second course (giving the seat back waits for the course row a clerk holds), with
    the first course's forfeits committed: the next run does the rest, nobody twice."""
    from app.models import PaymentSlip, RegistrationEvent
    from app.services import clock, registration
    from app.services.audit import Actor

    quota, waiting = 3, 3
    venue = make.venue(posting_grace_days=0)
    courses = [make.course(venue, quota=quota) for _ in range(2)]
    make.commit()
    people = bulk_citizens(db.session, 2 * (quota + waiting), start=840000)
    for i, person in enumerate(people):
        registration.apply(db.session, courses[i // (quota + waiting)], person, None, Actor())
    db.session.commit()
    course_ids = [c.id for c in courses]
    db.session.execute(text("UPDATE registration SET deadline_at = :t WHERE state = 'admitted'"),
                       {"t": clock.now() - dt.timedelta(days=2)})
    db.session.commit()
    first = dict(db.session.execute(select(Registration.id, Registration.state)).all())
    assert Counter(first.values()) == {"admitted": 2 * quota, "waitlisted": 2 * waiting}
    old_notes = db.session.execute(select(func.max(Notification.id))).scalar()

    job_rig.deliveries.start()
    done_before = _kill_mid_job(
        db, job_rig, "forfeit-overdue", "SELECT id FROM course WHERE id = :c FOR UPDATE",
        {"c": course_ids[1]}, "UPDATE course",
        lambda: _committed(db, "SELECT count(*) FROM registration WHERE state = 'forfeited'")[0][0])
    assert done_before < 2 * quota  # the kill did interrupt the job
    for cid in course_ids:  # committed forfeits are whole; the interrupted one left no trace
        taken, forfeited, admitted = _committed(
            db, "SELECT c.seats_taken, (SELECT count(*) FROM registration r WHERE r.course_id = c.id "
            "AND r.state = 'forfeited'), (SELECT count(*) FROM registration r "
            "WHERE r.course_id = c.id AND r.state = 'admitted') FROM course c WHERE c.id = :c", c=cid)[0]
        assert taken == admitted == quota and forfeited in (0, quota), (cid, taken, forfeited, admitted)

    assert _wait_job(cron_tick(job_rig.redis.url, "forfeit-overdue")) == 2 * quota - done_before
    assert _wait_job(cron_tick(job_rig.redis.url, "forfeit-overdue")) == 0  # and again: nothing

    db.session.expire_all()
    for cid in course_ids:
        assert db.session.get(Course, cid).seats_taken == quota
    regs = db.session.execute(select(Registration)).scalars().all()
    for reg in regs:
        was = first[reg.id]
        assert reg.state == {"admitted": "forfeited", "waitlisted": "admitted"}[was]
        events = db.session.execute(select(RegistrationEvent.from_state, RegistrationEvent.to_state)
                                    .where(RegistrationEvent.registration_id == reg.id)
                                    .order_by(RegistrationEvent.id)).all()
        assert [tuple(e) for e in events] == [(None, "applied"), ("applied", was), (was, reg.state)]
        slips = db.session.execute(select(PaymentSlip.status).where(
            PaymentSlip.registration_id == reg.id).order_by(PaymentSlip.id)).scalars().all()
        assert slips == (["void"] if was == "admitted" else ["open"])
        notes = db.session.execute(select(Notification.event, Notification.channel).where(
            Notification.registration_id == reg.id)).all()
        events_sent = ("admitted", "forfeited") if was == "admitted" else ("waitlisted", "admitted", "promoted")
        assert Counter(tuple(n) for n in notes) == {(ev, ch): 1 for ev in events_sent
                                                    for ch in ("email", "sms")}
    job_notes = db.session.execute(select(Notification.id).where(Notification.id > old_notes)).scalars().all()
    db.session.rollback()
    assert len(job_notes) == 2 * (2 * quota) + 2 * 2 * (2 * waiting)
    _wait(lambda: set(_console_ids(job_rig.outbox)) >= set(job_notes), "the job's messages", 60,
          detail=job_rig.deliveries.logs)
    time.sleep(1)
    assert _console_ids(job_rig.outbox) == {nid: 1 for nid in job_notes}
    print(f"\nworker killed after {done_before} of {2 * quota} forfeits; the next run did the "
          f"rest, {len(job_notes)} messages delivered once")


# ---------------------------------------------------------------------------------------
# 3. PostgreSQL restarted under load

@pytest.fixture()
def private_db(tmp_path):
    """A PostgreSQL cluster of our own, a database on it migrated like conftest's, and an
    app (in this process) for setting data up and checking it; destroyed afterwards."""
    _need("postgres", "redis-server", "gunicorn")
    from app import create_app
    from app.extensions import db as _db

    cluster = PrivateCluster()
    app2 = None
    try:
        cluster.init().start()
        url = cluster.create_database("workshops")
        app2 = create_app({
            "SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "REDIS_URL": "",
            "RATELIMIT_ENABLED": False, "SERVER_NAME": None,
            "UPLOAD_DIR": str(tmp_path / "uploads"), "RECONCILIATION_INBOX": str(tmp_path / "inbox"),
            "NOTIFY_CONSOLE_FILE": str(tmp_path / "setup-outbox.log"),
        })
        with app2.app_context():
            from flask_migrate import upgrade

            from app.cli import sync_permissions

            upgrade(directory=str(ROOT / "migrations"))
            sync_permissions()
            _db.session.remove()
        yield cluster, url, app2
    finally:
        if app2 is not None:
            with app2.app_context():
                _db.session.remove()
                _db.engine.dispose()
        cluster.destroy()


def test_postgres_restart_under_load_answers_503_then_recovers_in_the_same_processes(private_db, tmp_path):
    import threading

    from app.extensions import db as _db
    from app.models import PaymentSlip, Phase, RegistrationEvent
    from tests.factories import Factory

    cluster, url, app2 = private_db
    quota, n_courses, n_registering, n_reading = 5, 3, 3, 3
    with app2.app_context():
        make = Factory(_db, app2)
        venue = make.venue()
        codes = [make.course(venue, quota=quota).code for _ in range(n_courses)]
        make.commit()
        people = bulk_citizens(_db.session, 160, start=830000)
        logins = [(p.id, *mint_session(app2, p.id, p.session_version)) for p in people]
        _db.session.remove()
        _db.engine.dispose()
    redis = PrivateRedis(tmp_path).start()
    env = app_environment(
        DATABASE_URL=url, REDIS_URL=redis.url, RATELIMIT_STORAGE_URI=redis.url,
        SECRET_KEY=app2.config["SECRET_KEY"], INSTANCE_DIR=tmp_path / "instance",
        NOTIFY_CHANNELS="console", NOTIFY_CONSOLE_FILE=tmp_path / "outbox.log")
    server = AppServer(env, tmp_path).start()
    try:
        pids = server.worker_pids()
        answers: list = []
        lock = threading.Lock()
        stop = threading.Event()
        final: dict[int, Answer] = {}  # citizen id -> the answer that ended their attempts
        queue_ = list(logins[:120])  # citizens registering during the run
        reads = ["/", f"/courses/{codes[0]}", "/api/v1/public/courses",
                 f"/api/v1/public/courses/{codes[1]}", f"/courses/{codes[2]}"]

        def record(answer):
            with lock:
                answers.append(answer)

        def registering(k):
            while not stop.is_set():
                with lock:
                    if not queue_:
                        return
                    cid, cookie, token = queue_.pop(0)
                code = codes[cid % n_courses]
                req = Req("POST", f"/courses/{code}/register", {"csrf_token": token},
                          {"Cookie": cookie}, tag=("register", cid))
                deadline = time.monotonic() + 40
                while True:  # a browser user trying again after "please try again shortly"
                    answer = http(server.port, req, timeout=20)
                    record(answer)
                    if answer.status != 503 or time.monotonic() > deadline:
                        break
                    time.sleep(0.3)
                with lock:
                    final[cid] = answer

        def reading(k):
            i = k
            while not stop.is_set():
                path = reads[i % len(reads)]
                record(http(server.port, Req("GET", path, tag=("read", path)), timeout=20))
                i += 1

        threads = ([threading.Thread(target=registering, args=(k,)) for k in range(n_registering)]
                   + [threading.Thread(target=reading, args=(k,)) for k in range(n_reading)])
        for t in threads:
            t.start()
        try:
            _wait(lambda: len(answers) >= 30, "load before the restart", 60)
            t_down = time.monotonic()
            cluster.stop("fast")
            time.sleep(1.5)
            cluster.start()
            t_up = time.monotonic()
            n_at_restart = len(answers)
            _wait(lambda: len(answers) >= n_at_restart + 40, "load after the restart", 60)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not any(t.is_alive() for t in threads), "a client is hung"

        statuses = Counter((a.tag[0], a.status) for a in answers)
        unexpected = [(a.tag, a.status, a.error or a.body[:200]) for a in answers
                      if (a.tag[0], a.status) not in {("read", 200), ("read", 503), ("register", 302),
                                                      ("register", 409), ("register", 503)}]
        assert not unexpected, (statuses, unexpected[:5], server.log()[-4000:])
        unavailable = [a for a in answers if a.status == 503]
        assert unavailable, f"the restart was not noticed by any request: {statuses}"
        assert all(a.headers.get("retry-after") == "5" for a in unavailable)
        slowest = max(a.seconds for a in answers)
        assert slowest < 15, slowest
        # Every citizen who tried ended with "registered" (302), or "already registered"
        # (409: an earlier attempt's commit went through but its answer was a 503).
        assert {a.status for a in final.values()} <= {302, 409}, Counter(a.status for a in final.values())

        # Once the database accepted connections again, every request was served normally
        # (the pool pre-pings, so no stale connection surfaces as an error) ...
        back = [(a.tag, a.status) for a in answers if a.started > t_up]
        assert len(back) >= 30 and {s for _, s in back} <= {200, 302, 409}, back
        # ... by the same gunicorn workers, without a restart.
        after = [http(server.port, Req("GET", reads[i % len(reads)]), timeout=20) for i in range(10)]
        fresh = logins[120:130]
        after += [http(server.port, Req("POST", f"/courses/{codes[cid % n_courses]}/register",
                                        {"csrf_token": token}, {"Cookie": cookie}), timeout=20)
                  for cid, cookie, token in fresh]
        assert [a.status for a in after] == [200] * 10 + [302] * len(fresh), \
            [(a.status, a.body[:200]) for a in after]
        assert server.worker_pids() == pids

        # A restart while nobody is asking: the pooled connections are all dead, and the
        # very first requests afterwards are answered normally (pre-ping, not a 503).
        cluster.stop("fast")
        cluster.start()
        quiet = [http(server.port, Req("GET", reads[i % len(reads)]), timeout=20) for i in range(6)]
        cid, cookie, token = logins[130]
        quiet.append(http(server.port, Req("POST", f"/courses/{codes[cid % n_courses]}/register",
                                           {"csrf_token": token}, {"Cookie": cookie}), timeout=20))
        assert [a.status for a in quiet] == [200] * 6 + [302], [(a.status, a.body[:200]) for a in quiet]
        fresh.append(logins[130])
        assert server.worker_pids() == pids
        _no_tracebacks(server)

        # No registration is half-written: seats, events, slips and messages agree.
        with app2.app_context():
            s = _db.session
            regs = s.execute(select(Registration)).scalars().all()
            tried = set(final) | {cid for cid, _, _ in fresh}
            assert sorted(r.citizen_id for r in regs) == sorted(tried)
            for code in codes:
                course = s.execute(select(Course).where(Course.code == code)).scalar_one()
                mine = [r for r in regs if r.course_id == course.id]
                admitted = sum(r.state == "admitted" for r in mine)
                assert admitted == min(quota, len(mine)) == course.seats_taken
                phase = s.execute(select(Phase).where(Phase.course_id == course.id)).scalar_one()
                assert phase.seats_filled == admitted
                assert {r.state for r in mine} <= {"admitted", "waitlisted"}
            for reg in regs:
                events = s.execute(select(RegistrationEvent.from_state, RegistrationEvent.to_state)
                                   .where(RegistrationEvent.registration_id == reg.id)
                                   .order_by(RegistrationEvent.id)).all()
                assert [tuple(e) for e in events] == [(None, "applied"), ("applied", reg.state)]
                slips = s.execute(select(PaymentSlip.status).where(
                    PaymentSlip.registration_id == reg.id)).scalars().all()
                assert slips == (["open"] if reg.state == "admitted" else [])
                notes = s.execute(select(Notification.event, Notification.channel).where(
                    Notification.registration_id == reg.id)).all()
                assert Counter(tuple(n) for n in notes) == {(reg.state, "email"): 1, (reg.state, "sms"): 1}
            s.remove()
            _db.engine.dispose()
        print(f"\nPostgreSQL down {t_up - t_down:.1f}s under load: {dict(statuses)}; "
              f"{len(regs)} registrations consistent; slowest answer {slowest:.2f}s")
    finally:
        server.stop()
        redis.stop()


def test_a_connection_the_database_dropped_does_not_fail_the_end_of_a_request(app, db):
    """The server ends a connection after the request used it (a restart, an idle-session
    kill): ending the request must not raise (that would turn its answer into a bare
    500, as the restart test above once caught), and the next request gets a fresh
    connection."""
    from app.extensions import db as _db

    _on_postgresql(app)
    with app.test_request_context("/api/v1/public/courses"):
        ctx = app.app_context()  # a request's own app context (the fixture holds another)
        ctx.push()
        try:
            pid = _db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with _db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                _wait(lambda: not other.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}).scalar(),
                      "the backend to end", 10)
        finally:
            ctx.pop()  # teardown ends the session: must not raise
    ctx = app.app_context()
    with ctx:
        assert _db.session.execute(text("SELECT 1")).scalar() == 1
