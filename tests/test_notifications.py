"""Notifications in-process: rendering in both languages, channels, the outbox state
machine (claim, retries, leases, sweep), the after-commit hand-off and Redis outages.

The end-to-end tests through real RQ workers, SMTP and SMS servers are in
tests/test_notifications_rq.py."""
from __future__ import annotations

import datetime as dt
import threading
import time
import types

import pytest
from sqlalchemy import func, select

from app.models import DeliveryAttempt, Notification
from app.services import channels, clock, delivery, messages, notify, registration
from app.services.audit import Actor
from app.services.channels import Channel, PermanentError, TransientError, register_channel

from .support import free_port


# ---------------------------------------------------------------- helpers

SENT: list[int] = []
BEHAVIOUR: dict[str, object] = {}


@register_channel("test-recorder")
class RecorderChannel(Channel):
    """A test backend (adding a channel is one registered class): records each send,
    can be slow, or raise what BEHAVIOUR[recipient] says."""

    def send(self, notification) -> str:
        what = BEHAVIOUR.get(notification.recipient)
        if isinstance(what, float):
            time.sleep(what)
        elif isinstance(what, Exception):
            raise what
        SENT.append(notification.id)
        return f"rec-{notification.id}"


@pytest.fixture()
def recorder(app):
    """Every logical channel delivered by the recorder backend."""
    SENT.clear()
    BEHAVIOUR.clear()
    saved = {k: app.config.get(k) for k in ("CHANNEL_BACKENDS", "NOTIFY_MAX_ATTEMPTS",
                                            "NOTIFY_RETRY_BASE_SECONDS", "REDIS_URL")}
    app.config["CHANNEL_BACKENDS"] = {"email": "test-recorder", "sms": "test-recorder"}
    app.config["REDIS_URL"] = ""
    yield SENT
    app.config.update(saved)


def _registration(make, db, *, locale="zh_Hant_TW", title=None, email=None, phone=None):
    venue = make.venue()
    course = make.course(venue, **({"title": title} if title else {}))
    citizen = make.citizen(locale=locale, **({"email": email} if email else {}),
                           **({"phone": phone} if phone else {}))
    reg = registration.apply(db.session, course, citizen, None, Actor())
    return reg


def _rows(db, **where):
    q = select(Notification).order_by(Notification.id)
    for k, v in where.items():
        q = q.where(getattr(Notification, k) == v)
    db.session.expire_all()
    return db.session.execute(q).scalars().all()


# ---------------------------------------------------------------- rendering

def _untagged(body: str, locale: str) -> str:
    """An SMS without its sender tag (the tag alone differs between languages)."""
    from flask_babel import force_locale, gettext

    with force_locale(locale):
        tag = gettext("(Taichung Arts) %(text)s", text="")
    assert body.startswith(tag), (tag, body)
    return body[len(tag):]


def test_every_event_renders_in_both_languages(make, db, app):
    """Each event, for a zh_Hant_TW and an en citizen, on e-mail and SMS: non-empty,
    different between the languages, no placeholder left, links absolute."""
    reg = _registration(make, db)
    reg.deadline_at = clock.now() + dt.timedelta(days=3)
    zh = reg.citizen
    en = make.citizen(name="John Smith", locale="en")
    base = app.config["PUBLIC_BASE_URL"]
    extra = {"verify_sms": {"code": "123456"},
             "class_closed": {"day": "2026-09-28", "reason": "颱風停班", "new_last": "2027-01-11"}}
    for event in messages.EVENTS:
        ctx = extra.get(event, {})
        for channel in ("email", "sms"):
            out = {c.locale: messages.render(event, channel, citizen=c, registration=reg, **ctx)
                   for c in (zh, en)}
            for locale, m in out.items():
                text = m.subject + m.body + (m.html or "")
                assert m.subject.strip() and m.body.strip(), (event, channel, locale)
                assert "%(" not in text and "@@LINK@@" not in text, (event, channel, locale)
                if "http" in m.body:
                    assert base in m.body
                if channel == "sms":
                    assert messages.sms_segments(m.body) <= 2, (event, locale, m.body)
            assert out["zh_Hant_TW"].subject != out["en"].subject, (event, "subject not translated")
            texts = {loc: _untagged(m.body, loc) if channel == "sms" else m.body
                     for loc, m in out.items()}
            assert texts["zh_Hant_TW"] != texts["en"], (event, channel, "text not translated")


def test_email_has_plain_and_escaped_html_with_absolute_link(make, db, app):
    reg = _registration(make, db, title='<b>水彩</b> & "油畫"')
    m = messages.render("admitted", "email", citizen=reg.citizen, registration=reg)
    link = f"{app.config['PUBLIC_BASE_URL']}/my/registrations/{reg.id}"
    assert link in m.body and '<b>水彩</b> & "油畫"' in m.body  # plain text: as is
    assert "&lt;b&gt;水彩&lt;/b&gt; &amp; &#34;油畫&#34;" in m.html
    assert "<b>水彩" not in m.html
    assert f'<a href="{link}">{link}</a>' in m.html
    assert '<html lang="zh-Hant-TW">' in m.html


def test_sms_stays_within_two_segments_and_keeps_the_link(make, db, app):
    reg = _registration(make, db, title="兒童創意水彩與素描基礎進階班" * 4)
    m = messages.render("admitted", "sms", citizen=reg.citizen, registration=reg)
    link = f"{app.config['PUBLIC_BASE_URL']}/my/registrations/{reg.id}"
    assert messages.sms_segments(m.body) <= 2 and len(m.body) <= 134
    assert m.body.endswith(link) and "…" in m.body  # the title was shortened
    assert reg.entry_no in m.body and messages._deadline(reg) in m.body
    short = messages.render("verify_sms", "sms", citizen=reg.citizen, code="654321")
    assert "654321" in short.body and messages.sms_segments(short.body) == 1


def test_sms_keeps_the_facts_for_an_english_citizen_and_a_chinese_title(make, db, app):
    """Chinese in an English SMS makes it UCS-2 (67 characters a segment): the short SMS
    text and a shortened title keep the entry, the deadline and the link."""
    reg = _registration(make, db, locale="en", title="兒童創意水彩與素描基礎進階班（週六上午）")
    m = messages.render("admitted", "sms", citizen=reg.citizen, registration=reg)
    assert messages.sms_segments(m.body) <= 2
    assert reg.entry_no in m.body and messages._deadline(reg) in m.body
    assert m.body.endswith(f"/my/registrations/{reg.id}") and "兒童創意水彩與" in m.body


def test_sms_segments_count_gsm_and_chinese():
    assert messages.sms_segments("a" * 160) == 1 and messages.sms_segments("a" * 161) == 2
    assert messages.sms_segments("字" * 70) == 1 and messages.sms_segments("字" * 71) == 2
    assert messages.sms_segments("字" * 134) == 2 and messages.sms_segments("字" * 135) == 3
    long_en = "word " * 100 + "https://x.tw/a"
    fitted = messages.fit_sms(long_en, "https://x.tw/a", 2)
    assert fitted.endswith("... https://x.tw/a") and len(fitted) <= 306
    long_zh = "請於期限內完成繳費" * 20 + "：https://x.tw/b"
    fitted = messages.fit_sms(long_zh, "https://x.tw/b", 2)
    assert fitted.endswith("… https://x.tw/b") and messages.sms_segments(fitted) == 2


# ---------------------------------------------------------------- channels

def test_backend_mapping_from_notify_channels():
    bm = channels.backend_map
    assert bm({"NOTIFY_CHANNELS": "console"}) == {"*": "console"}
    assert bm({"NOTIFY_CHANNELS": "email,sms"}) == {"email": "email", "sms": "sms"}
    assert bm({"NOTIFY_CHANNELS": "email, sms=console"}) == {"email": "email", "sms": "console"}
    assert bm({"NOTIFY_CHANNELS": "email,console"}) == {"email": "email", "*": "console"}
    assert bm({"NOTIFY_CHANNELS": "x", "CHANNEL_BACKENDS": {"sms": "console"}}) == {"sms": "console"}


def test_mitake_reply_parsing():
    reply = channels.parse_mitake_reply("[1]\r\nmsgid=0123\r\nstatuscode=1\r\nAccountPoint=9\r\n")
    assert reply == {"msgid": "0123", "statuscode": "1", "accountpoint": "9"}


def test_demo_console_channel_delivers_on_commit(make, db, app, tmp_path):
    """No Redis: the rows are delivered right after the commit, through the console
    file (NOTIFY_CHANNELS=console maps every channel to it)."""
    saved = (app.config["NOTIFY_CONSOLE_FILE"], app.config.get("NOTIFY_CHANNELS"))
    app.config["NOTIFY_CONSOLE_FILE"] = str(tmp_path / "outbox.log")
    app.config["NOTIFY_CHANNELS"] = "console"
    try:
        reg = _registration(make, db)
        assert {r.status for r in _rows(db)} == {"pending"}  # not before the commit
        db.session.commit()
        rows = _rows(db)
        assert len(rows) == 2 and {r.status for r in rows} == {"sent"}  # admitted: e-mail, SMS
        assert all(r.provider_id.startswith("console-") for r in rows)
        log = (tmp_path / "outbox.log").read_text(encoding="utf-8")
        assert log.count("=== ") == 2 and reg.citizen.email in log and reg.citizen.phone in log
    finally:
        app.config["NOTIFY_CONSOLE_FILE"], app.config["NOTIFY_CHANNELS"] = saved


def test_rolled_back_event_sends_nothing(make, db, recorder):
    _registration(make, db)
    db.session.rollback()
    assert recorder == [] and _rows(db) == []


def test_savepoint_commit_waits_for_the_real_commit(make, db, recorder):
    with db.session.begin_nested():
        _registration(make, db)
    assert recorder == []  # released a savepoint only
    db.session.commit()
    assert len(recorder) == 2


def test_notify_twice_adds_nothing(make, db, recorder):
    reg = _registration(make, db)
    again = notify.notify(db.session, "admitted", citizen=reg.citizen, registration=reg)
    db.session.commit()
    assert again == [] and len(_rows(db)) == 2 and len(recorder) == 2


# ---------------------------------------------------------------- the state machine

def _one_pending(make, db, app, recipient_behaviour=None):
    """One outbox row (e-mail only), committed but not delivered."""
    reg = _registration(make, db)
    reg.citizen.notify_sms = False
    rows = notify.notify(db.session, "payment_due", citizen=reg.citizen, registration=reg, key="t")
    db.session.info.pop("outbox_new_ids", None)  # keep it pending: deliver by hand
    db.session.query(Notification).filter(Notification.id != rows[0].id).delete()
    db.session.commit()
    if recipient_behaviour is not None:
        BEHAVIOUR[rows[0].recipient] = recipient_behaviour
    return rows[0].id


def test_concurrent_deliveries_send_once(make, db, app, recorder):
    """Twelve threads deliver the same row at once (PostgreSQL): one sends."""
    nid = _one_pending(make, db, app, recipient_behaviour=0.3)
    outcomes, barrier = [], threading.Barrier(12)

    def run():
        with app.app_context():
            barrier.wait()
            outcomes.append(delivery.deliver(nid))

    threads = [threading.Thread(target=run) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert recorder == [nid]
    assert sorted(outcomes) == ["sent"] + ["skipped"] * 11
    row = _rows(db)[0]
    assert (row.status, row.attempts, row.provider_id) == ("sent", 1, f"rec-{nid}")


def test_transient_errors_back_off_then_fail(make, db, app, recorder):
    app.config["NOTIFY_MAX_ATTEMPTS"], app.config["NOTIFY_RETRY_BASE_SECONDS"] = 3, 60
    nid = _one_pending(make, db, app, recipient_behaviour=TransientError("HTTP 503"))
    start = clock.now()
    assert delivery.deliver(nid) == "retry"
    row = _rows(db)[0]
    assert row.status == "pending" and row.attempts == 1 and row.last_error == "HTTP 503"
    assert dt.timedelta(seconds=59) < row.next_attempt_at - start < dt.timedelta(seconds=62)
    assert delivery.deliver(nid) == "skipped"  # not due yet
    try:
        clock.freeze(start + dt.timedelta(seconds=61))
        assert delivery.deliver(nid) == "retry"
        assert _rows(db)[0].next_attempt_at - clock.now() == dt.timedelta(seconds=120)
        clock.freeze(start + dt.timedelta(seconds=200))
        assert delivery.deliver(nid) == "failed"
    finally:
        clock.freeze(None)
    row = _rows(db)[0]
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    log = db.session.execute(select(DeliveryAttempt.status, DeliveryAttempt.error)
                             .where(DeliveryAttempt.notification_id == nid)).all()
    assert log == [("error", "HTTP 503")] * 3 and recorder == []


def test_permanent_error_fails_at_once(make, db, app, recorder):
    nid = _one_pending(make, db, app, recipient_behaviour=PermanentError("550 no such user"))
    assert delivery.deliver(nid) == "failed"
    row = _rows(db)[0]
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "550 no such user")


def test_unknown_channel_fails_visibly(make, db, app, recorder):
    app.config["CHANNEL_BACKENDS"] = {"sms": "test-recorder"}
    nid = _one_pending(make, db, app)
    assert delivery.deliver(nid) == "failed"
    assert "no backend for channel 'email'" in _rows(db)[0].last_error


def test_a_dead_workers_lease_expires_and_the_sweep_redelivers(make, db, app, recorder):
    nid = _one_pending(make, db, app)
    assert delivery.claim(db.session, nid, clock.now()) is not None  # then the worker "dies"
    assert delivery.sweep(db.session) == 0  # the lease still runs
    try:
        clock.freeze(clock.now() + delivery.lease() + dt.timedelta(seconds=1))
        assert delivery.sweep(db.session) == 1
    finally:
        clock.freeze(None)
    row = _rows(db)[0]
    assert (row.status, row.attempts) == ("sent", 2) and recorder == [nid]
    errors = db.session.execute(select(DeliveryAttempt.error).where(
        DeliveryAttempt.notification_id == nid, DeliveryAttempt.status == "error")).scalars().all()
    assert len(errors) == 1 and "interrupted" in errors[0]


def test_a_late_worker_does_not_overwrite_the_newer_attempt(make, db, app, recorder):
    """A worker whose lease was taken over records its attempt but leaves the row alone."""
    nid = _one_pending(make, db, app)
    first = delivery.claim(db.session, nid, clock.now())
    first = types.SimpleNamespace(id=first.id, attempts=first.attempts)  # the first worker's view
    later = clock.now() + delivery.lease() + dt.timedelta(seconds=1)
    second = delivery.claim(db.session, nid, later)
    assert second is not None and second.attempts == 2
    with delivery._own_session() as s:
        assert delivery._record(s, first, None, "timeout", False) == "lost"
    assert _rows(db)[0].status == "sending"


def test_redis_down_never_fails_the_request(make, db, app, recorder):
    """Enqueueing to a dead Redis is logged and dropped; the rows wait for the sweep."""
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    _registration(make, db)
    db.session.commit()  # no exception
    rows = _rows(db)
    assert len(rows) == 2 and {(r.status, r.attempts) for r in rows} == {("pending", 0)}
    assert delivery.sweep(db.session) == 0  # still down
    app.config["REDIS_URL"] = ""
    assert delivery.sweep(db.session) == 2
    assert {r.status for r in _rows(db)} == {"sent"} and len(recorder) == 2


def test_resend_puts_failed_messages_back(make, db, app, recorder):
    nid = _one_pending(make, db, app, recipient_behaviour=PermanentError("550"))
    delivery.deliver(nid)
    BEHAVIOUR.clear()
    row = _rows(db)[0]
    assert delivery.resend(db.session, [row]) == [row]
    db.session.commit()  # dispatched after the commit
    row = _rows(db)[0]
    assert (row.status, row.attempts) == ("sent", 1) and recorder == [nid]
    assert db.session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 2


def test_a_job_for_another_database_is_left_alone(make, db, app, recorder):
    from app.jobs import delivery_jobs

    nid = _one_pending(make, db, app)
    assert delivery_jobs.deliver_notification(nid, "some_other_db") == "wrong-database"
    assert recorder == [] and _rows(db)[0].status == "pending"
    assert delivery_jobs.deliver_notification(nid, delivery_jobs.database_name()) == "sent"


def test_a_message_that_keeps_killing_its_worker_fails_at_the_limit(make, db, app, recorder):
    app.config["NOTIFY_MAX_ATTEMPTS"] = 2
    nid = _one_pending(make, db, app)
    now = clock.now()
    for n in range(2):  # two attempts, each "killed" (never recorded)
        now += delivery.lease() + dt.timedelta(seconds=1)
        assert delivery.claim(db.session, nid, now) is not None
    now += delivery.lease() + dt.timedelta(seconds=1)
    assert delivery.claim(db.session, nid, now) is None
    row = _rows(db)[0]
    assert (row.status, row.attempts) == ("failed", 2) and "interrupted" in row.last_error
    assert recorder == []


def test_a_broadcast_keeps_the_clerks_text_escaped_with_its_line_breaks(make, db):
    reg = _registration(make, db)
    m = messages.render("broadcast", "email", citizen=reg.citizen, registration=reg,
                        subject="颱風停課", text="明天停課。\n<補課>另行通知")
    assert m.subject == "颱風停課" and "明天停課。\n&lt;補課&gt;另行通知" not in m.html
    assert "明天停課。<br>\n&lt;補課&gt;另行通知" in m.html
    sms = messages.render("broadcast", "sms", citizen=reg.citizen, registration=reg,
                          subject="颱風停課", text="明天停課。" * 40)
    assert messages.sms_segments(sms.body) == 2 and sms.body.endswith("…")
