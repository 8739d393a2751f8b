"""Notifications end to end: PostgreSQL, Redis, real ``rq worker`` processes, a real SMTP
server (aiosmtpd) and a local HTTP server speaking the Mitake SMS protocol.

Each test runs its workers on a queue of its own (and job ids carry the test database's
name), so other suites sharing the Redis server are not disturbed; only this test's keys
are deleted afterwards."""
from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.models import DeliveryAttempt, Notification
from app.services import delivery, registration
from app.services.audit import Actor

from .support import free_port
from .support.mitake import MitakeGateway
from .support.smtp import SmtpSink
from .support.workers import RqWorkers

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def servers():
    smtp, gateway = SmtpSink().start(), MitakeGateway().start()
    yield smtp, gateway
    smtp.stop()
    gateway.stop()


class Rig:
    """One test's Redis queue, workers and local servers."""

    def __init__(self, app, db, workers, smtp, gateway):
        self.app, self.db, self.workers, self.smtp, self.gateway = app, db, workers, smtp, gateway

    def rows(self) -> dict[int, tuple]:
        """id -> (status, attempts, provider_id, last_error), as committed now."""
        self.db.session.rollback()
        out = self.db.session.execute(select(
            Notification.id, Notification.status, Notification.attempts,
            Notification.provider_id, Notification.last_error)).all()
        self.db.session.rollback()
        return {r[0]: tuple(r[1:]) for r in out}

    def wait(self, predicate, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}: {self.rows()}\n{self.workers.logs()}")

    def wait_final(self, n: int, timeout: float = 60) -> dict[int, tuple]:
        self.wait(lambda: len(self.rows()) == n and all(
            r[0] in ("sent", "failed") for r in self.rows().values()), f"{n} final rows", timeout)
        return self.rows()

    def attempts_of(self, nid: int) -> list[tuple]:
        return self.db.session.execute(
            select(DeliveryAttempt.status, DeliveryAttempt.provider_id, DeliveryAttempt.error)
            .where(DeliveryAttempt.notification_id == nid).order_by(DeliveryAttempt.id)).all()

    def sweep(self) -> int:
        with self.app.app_context():
            from app.extensions import db

            try:
                return delivery.sweep(db.session)
            finally:
                db.session.remove()


@pytest.fixture()
def rig(app, db, servers, tmp_path):
    smtp, gateway = servers
    smtp.messages.clear(), smtp.envelopes.clear()
    gateway.requests.clear(), gateway.delivered.clear(), gateway.behave.clear()
    gateway.forget_client_ids()
    queue = f"notifications-test-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "NOTIFY_CHANNELS": "email,sms",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port),
        "MAIL_DEFAULT_SENDER": "workshops@arts.taichung.example",
        "SMS_GATEWAY_URL": gateway.url, "SMS_USERNAME": gateway.username,
        "SMS_PASSWORD": gateway.password,
        "NOTIFY_MAX_ATTEMPTS": "3", "NOTIFY_RETRY_BASE_SECONDS": "1",
        "NOTIFY_SEND_TIMEOUT": "2", "NOTIFY_LEASE_SECONDS": "8",
    }
    workers = RqWorkers(REDIS_URL, queue, env, tmp_path)
    saved = {k: app.config.get(k) for k in ("REDIS_URL", "NOTIFY_QUEUE")}
    app.config.update(REDIS_URL=REDIS_URL, NOTIFY_QUEUE=queue)
    yield Rig(app, db, workers, smtp, gateway)
    workers.stop_all()
    app.config.update(saved)
    database = Path(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database).name
    workers.cleanup_redis(f"deliver-{database}-")


def _admitted(make, db, n: int = 1, course=None, **citizen_kw):
    """``n`` citizens admitted to a course: an 'admitted' message each, per channel."""
    course = course or make.course(make.venue(), quota=50)
    regs = []
    for i in range(n):
        kw = {k: (v[i] if isinstance(v, list) else v) for k, v in citizen_kw.items()}
        citizen = make.citizen(**kw)
        regs.append(registration.apply(db.session, course, citizen, None, Actor()))
    return regs


@pytest.mark.parametrize("worker_class", ["app.jobs.worker.AppWorker",
                                          "app.jobs.worker.AppSimpleWorker"])
def test_email_and_sms_reach_real_servers_through_rq_workers(rig, make, db, worker_class):
    """Through the forking worker (one work horse per job) and the non-forking one the
    README suggests for the notifications queue."""
    rig.workers.worker_class = worker_class
    worker = rig.workers.start()
    assert worker_class.rsplit(".", 1)[1] in " ".join(open(f"/proc/{worker.pid}/cmdline").read().split("\0"))
    zh, en = _admitted(make, db, 2, locale=["zh_Hant_TW", "en"])
    db.session.commit()  # the after-commit hook enqueues on Redis; the worker delivers
    rows = rig.wait_final(4, timeout=30)
    assert {r[0] for r in rows.values()} == {"sent"}
    for reg in (zh, en):
        email_row = db.session.execute(select(Notification).where(
            Notification.registration_id == reg.id, Notification.channel == "email")).scalar_one()
        sms_row = db.session.execute(select(Notification).where(
            Notification.registration_id == reg.id, Notification.channel == "sms")).scalar_one()
        [mail] = rig.smtp.to(reg.citizen.email)
        assert mail["Subject"] == email_row.subject and mail["Message-ID"] == email_row.provider_id
        assert "multipart/alternative" in [part.get_content_type() for part in mail.walk()]
        plain = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        link = f"/my/registrations/{reg.id}"
        assert link in plain and f'<a href="http' in html and link in html
        [sms] = rig.gateway.to(reg.citizen.phone)
        assert sms["smbody"] == sms_row.body and sms["msgid"] == sms_row.provider_id
        assert (sms["username"], sms["password"]) == (rig.gateway.username, rig.gateway.password)
        assert [a[0] for a in rig.attempts_of(email_row.id)] == ["sent"]


def test_gateway_failures_are_retried_then_marked_failed(rig, make, db):
    gw = rig.gateway
    phones = {"http500": "0911000001", "timeout": "0911000002", "status:e": "0911000003",
              "status:v": "0911000004", "slow": "0911000005"}
    for behaviour, phone in phones.items():
        gw.behave[phone] = behaviour
    gw.slow_seconds = 3  # longer than NOTIFY_SEND_TIMEOUT=2
    regs = _admitted(make, db, len(phones), phone=list(phones.values()), notify_email=False)
    bounce = _admitted(make, db, 1, course=regs[0].course, email="bounce@example.tw",
                       notify_sms=False)[0]
    rig.workers.start_many(2)
    db.session.commit()
    rows = rig.wait_final(6, timeout=90)
    by_phone = {}
    for reg in regs:
        row = db.session.execute(select(Notification).where(
            Notification.registration_id == reg.id)).scalar_one()
        by_phone[reg.citizen.phone] = row
    for behaviour, needle in (("http500", "HTTP 500"), ("timeout", "timed out"),
                              ("status:e", "statuscode=e")):
        row = by_phone[phones[behaviour]]
        assert (row.status, row.attempts) == ("failed", 3), behaviour
        assert needle in row.last_error, (behaviour, row.last_error)
        assert [a[0] for a in rig.attempts_of(row.id)] == ["error"] * 3
        assert len(gw.requests_to(phones[behaviour])) == 3
        assert gw.to(phones[behaviour]) == []
    row = by_phone[phones["status:v"]]  # invalid number: not retried
    assert (row.status, row.attempts) == ("failed", 1) and "statuscode=v" in row.last_error
    assert len(gw.requests_to(phones["status:v"])) == 1
    # Accepted, but the answer came after the timeout: the retry is answered Duplicate=Y.
    row = by_phone[phones["slow"]]
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(gw.to(phones["slow"])) == 1 and len(gw.requests_to(phones["slow"])) == 2
    assert row.provider_id == gw.to(phones["slow"])[0]["msgid"]
    mail_row = db.session.execute(select(Notification).where(
        Notification.registration_id == bounce.id)).scalar_one()
    assert (mail_row.status, mail_row.attempts) == ("failed", 1)
    assert "550" in mail_row.last_error and rig.smtp.to("bounce@example.tw") == []
    assert sum(r[0] == "failed" for r in rows.values()) == 5


def test_killed_workers_and_a_redis_outage_deliver_each_message_exactly_once(rig, make, db, app):
    """Redis down while the events commit; one worker killed (SIGKILL) while the SMTP
    server holds its message (not yet accepted), another killed after the SMS gateway
    accepted its message but before it answered.  After recovery every e-mail and SMS
    arrived exactly once."""
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # Redis "stopped"
    regs = _admitted(make, db, 4)
    db.session.commit()  # no error for the user
    rows = rig.rows()
    assert len(rows) == 8 and {r[:2] for r in rows.values()} == {("pending", 0)}
    assert rig.sweep() == 0  # still down: nothing lost, nothing handed on

    rig.smtp.hold_next(1)
    rig.gateway.hold_next(1)
    app.config["REDIS_URL"] = REDIS_URL  # Redis is back
    worker = rig.workers.start()
    assert rig.sweep() == 8
    # Jobs run in id order: the first is citizen 1's e-mail, the second their SMS.
    rig.wait(rig.smtp.arrived.is_set, "the SMTP server holding the first e-mail", 30)
    rig.workers.kill(worker)
    worker = rig.workers.start()
    rig.wait(rig.gateway.arrived.is_set, "the gateway holding the first SMS", 30)
    rig.workers.kill(worker)
    rig.smtp.release()
    rig.gateway.release()
    stuck = [nid for nid, r in rig.rows().items() if r[0] == "sending"]
    assert len(stuck) == 2

    rig.workers.start_many(2)
    rig.wait(lambda: sum(r[0] == "sent" for r in rig.rows().values()) == 6, "the others", 40)

    def sweeps():  # two sweeps at once, repeatedly, until the leases end and all is sent
        threads = [threading.Thread(target=rig.sweep) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return all(r[0] == "sent" for r in rig.rows().values())

    rig.wait(sweeps, "redelivery after the leases ended", 40)
    time.sleep(1.5)  # let any stray duplicate job run before counting
    for reg in regs:
        assert len(rig.smtp.to(reg.citizen.email)) == 1, reg.citizen.email
        assert len(rig.gateway.to(reg.citizen.phone)) == 1, reg.citizen.phone
    rows = rig.rows()
    assert {rows[nid][:2] for nid in stuck} == {("sent", 2)}
    for nid in stuck:
        log = rig.attempts_of(nid)
        assert [a[0] for a in log] == ["error", "sent"] and "interrupted" in log[0][2]
    # The SMS accepted before the kill was offered again and answered Duplicate=Y.
    sms_stuck = [nid for nid in stuck if db.session.get(Notification, nid).channel == "sms"]
    phone = db.session.get(Notification, sms_stuck[0]).recipient
    assert len(rig.gateway.requests_to(phone)) == 2 and len(rig.gateway.to(phone)) == 1
