"""The security trail is append-only and tamper-evident.

* Nothing in the application can change or remove an entry: the ORM refuses (unit of
  work and bulk statements) and the database refuses (triggers of migration 0002).
* ``flask audit verify`` (run through ``app.test_cli_runner()``) exits 1 naming the first
  bad entry when an entry was altered, deleted or inserted by someone who went around the
  application: the tests play that attacker as the database superuser, switching the
  triggers off with ``ALTER TABLE audit_entry DISABLE TRIGGER ALL``.
* Cutting off the newest entries cannot be seen from the chain alone; the anchors written
  by ``flask audit checkpoint`` catch it.
"""
from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from app.models import AuditEntry
from app.services import audit, audit_review
from app.services.audit import Actor, entry_hash
from tests.test_office_fixtures import wired_app  # noqa: F401  (fixture)

ALICE = Actor(type="staff", name="alice", role="Venue Admin", venue_id=None, ip="10.0.0.7",
              user_agent="pytest")


def seed_entries(db, n=6) -> list[int]:
    ids = []
    for i in range(n):
        ids.append(audit.record(db.session, "page_view", ALICE, target=f"/admin/{i}",
                                detail={"i": i}).id)
    db.session.commit()
    return ids


@contextlib.contextmanager
def attacker(db):
    """A superuser connection with the append-only triggers switched off."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the attacker needs PostgreSQL's DISABLE TRIGGER")
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER ALL"))
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER ALL"))
        db.session.expire_all()


def verify(app, *args):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def test_intact_chain_verifies(wired_app, db):
    ids = seed_entries(db)
    result = verify(wired_app)
    assert result.exit_code == 0, result.output
    assert f"head #{ids[-1]}" in result.output and "intact" in result.output


def test_verify_fails_on_an_empty_link_from_the_start(wired_app, db):
    """Even the very first entry is checked against the genesis hash."""
    ids = seed_entries(db, 2)
    with attacker(db) as conn:
        conn.execute(text("UPDATE audit_entry SET prev_hash = :h WHERE id = :i"),
                     {"h": "f" * 64, "i": ids[0]})
    result = verify(wired_app)
    assert result.exit_code == 1 and f"#{ids[0]}" in result.output


# -- the application cannot change or remove entries ------------------------------------

def test_orm_refuses_update_and_delete(db):
    ids = seed_entries(db, 2)
    entry = db.session.get(AuditEntry, ids[0])
    entry.detail = '{"i":99}'
    with pytest.raises(audit_review.AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    entry = db.session.get(AuditEntry, ids[0])
    db.session.delete(entry)
    with pytest.raises(audit_review.AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(audit_review.AppendOnlyError):
        db.session.execute(update(AuditEntry).values(ip="1.1.1.1"))
    db.session.rollback()
    with pytest.raises(audit_review.AppendOnlyError):
        db.session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
    db.session.rollback()
    assert db.session.execute(select(AuditEntry.detail).where(AuditEntry.id == ids[0])).scalar() == '{"i":0}'
    assert len(db.session.execute(select(AuditEntry.id)).all()) == 2


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET detail = '{}' WHERE id = :i",
    "DELETE FROM audit_entry WHERE id = :i",
])
def test_database_refuses_update_and_delete(db, statement):
    ids = seed_entries(db, 2)
    with pytest.raises(DBAPIError) as info:
        with db.engine.begin() as conn:
            conn.execute(text(statement), {"i": ids[0]})
    assert "append-only" in str(info.value)
    assert db.session.execute(select(AuditEntry.id)).scalars().all() == ids


# -- tampering is detected ------------------------------------------------------------------

@pytest.mark.parametrize("column,value", [
    ("detail", '{"i":42}'), ("actor", "mallory"), ("ip", "192.0.2.1"), ("event", "page_viewx"),
    ("at", dt.datetime(2020, 1, 1)), ("venue_id", 3), ("target", "/elsewhere"),
    ("user_agent", "curl"), ("role", "Bureau Admin"),
])
def test_altered_entry_is_named(wired_app, db, column, value):
    ids = seed_entries(db)
    with attacker(db) as conn:
        conn.execute(text(f"UPDATE audit_entry SET {column} = :v WHERE id = :i"),
                     {"v": value, "i": ids[2]})
    result = verify(wired_app)
    assert result.exit_code == 1
    assert f"BROKEN at entry #{ids[2]}" in result.output and "altered" in result.output


def test_altered_and_rehashed_entry_breaks_the_next_link(wired_app, db):
    """An attacker who recomputes the altered row's hash still breaks the next link."""
    ids = seed_entries(db)
    row = db.session.get(AuditEntry, ids[2])
    forged = entry_hash(row.prev_hash, row.at, row.event, row.actor_type, "mallory", row.role,
                        row.venue_id, row.ip, row.user_agent, row.target, row.detail)
    with attacker(db) as conn:
        conn.execute(text("UPDATE audit_entry SET actor = 'mallory', hash = :h WHERE id = :i"),
                     {"h": forged, "i": ids[2]})
    result = verify(wired_app)
    assert result.exit_code == 1 and f"BROKEN at entry #{ids[3]}" in result.output


def test_deleted_entry_is_detected(wired_app, db):
    ids = seed_entries(db)
    with attacker(db) as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": ids[2]})
    result = verify(wired_app)
    assert result.exit_code == 1
    assert f"BROKEN at entry #{ids[3]}" in result.output and "removed" in result.output


def test_inserted_entry_is_named(wired_app, db):
    """A forged row slipped into a gap of the id sequence, correctly hashed and linked to
    the row before it: the row after it no longer links to its predecessor."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs a sequence gap and the attacker's DISABLE TRIGGER (PostgreSQL)")
    first = seed_entries(db, 3)
    audit.record(db.session, "page_view", ALICE, target="/rolled-back")
    db.session.rollback()  # an id of the sequence is used and lost: a gap
    rest = seed_entries(db, 3)
    gap = first[-1] + 1
    assert rest[0] > gap
    before = db.session.get(AuditEntry, first[-1])
    at = before.at + dt.timedelta(seconds=1)
    detail = '{"note":"approved by phone"}'
    digest = entry_hash(before.hash, at, "record_updated", "staff", "alice", "Venue Admin", None,
                        "10.0.0.7", "pytest", "refund:1", detail)
    with attacker(db) as conn:
        conn.execute(text(
            "INSERT INTO audit_entry (id, at, event, actor_type, actor, role, venue_id, ip, "
            "user_agent, target, detail, prev_hash, hash) VALUES (:id, :at, 'record_updated', "
            "'staff', 'alice', 'Venue Admin', NULL, '10.0.0.7', 'pytest', 'refund:1', :d, :p, :h)"),
            {"id": gap, "at": at, "d": detail, "p": before.hash, "h": digest})
    result = verify(wired_app)
    assert result.exit_code == 1
    assert f"BROKEN at entry #{gap}" in result.output and "inserted" in result.output


def test_appended_entry_with_a_wrong_link_is_named(wired_app, db):
    ids = seed_entries(db, 3)
    row = db.session.get(AuditEntry, ids[0])
    with attacker(db) as conn:
        conn.execute(text(
            "INSERT INTO audit_entry (at, event, actor_type, actor, role, venue_id, ip, user_agent, "
            "target, detail, prev_hash, hash) VALUES (now(), 'staff_login', 'staff', 'mallory', '', "
            "NULL, '', '', '', '{}', :p, :h)"), {"p": row.hash, "h": "e" * 64})
    forged = db.session.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc())).scalar()
    result = verify(wired_app)
    assert result.exit_code == 1 and f"BROKEN at entry #{forged}" in result.output


def test_tail_truncation_needs_the_anchors(wired_app, db, tmp_path):
    anchors = tmp_path / "anchors.txt"
    seed_entries(db, 3)
    result = wired_app.test_cli_runner().invoke(args=["audit", "checkpoint", "--anchors", str(anchors)])
    assert result.exit_code == 0, result.output
    anchor_id = int(anchors.read_text().split()[0])
    checkpoint = db.session.get(AuditEntry, anchor_id)
    assert checkpoint.event == "audit_checkpoint"
    assert verify(wired_app, "--anchors", str(anchors)).exit_code == 0
    with attacker(db) as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE id >= :i"), {"i": anchor_id - 1})
    assert verify(wired_app).exit_code == 0  # the chain alone cannot tell
    result = verify(wired_app, "--anchors", str(anchors))
    assert result.exit_code == 1
    assert f"BROKEN at entry #{anchor_id}" in result.output and "tail truncation" in result.output


def test_change_trail_entries_are_part_of_the_chain(wired_app, db, make):
    """Entries written inside a flush (row changes) and by audit.record interleave on
    one chain."""
    make.staff("chain_admin", "Bureau Admin")  # user_created, user_roles_changed …
    audit.record(db.session, "page_view", ALICE)
    db.session.commit()
    sm = wired_app.appbuilder.sm
    with wired_app.app_context():
        role = sm.find_role("Venue Clerk")
        user = sm.find_user(username="chain_admin")
        user.roles.append(role)
        sm.session.commit()
    events = db.session.execute(select(AuditEntry.event).order_by(AuditEntry.id)).scalars().all()
    assert "user_created" in events and events.count("user_roles_changed") == 2
    assert verify(wired_app).exit_code == 0


# -- the seal: entries forged by someone who can write to the database ----------------------

KEY = "audit-seal-key-for-tests-only"


@pytest.fixture()
def sealed(app, wired_app, monkeypatch):
    """AUDIT_HMAC_KEY set on the apps writing and verifying the trail."""
    for a in {app, wired_app}:
        monkeypatch.setitem(a.config, "AUDIT_HMAC_KEY", KEY)


def forge_at_the_end(db, seal=None) -> int:
    """Append an entry with a correct link and a correct hash, as someone without the key."""
    last = db.session.execute(select(AuditEntry).order_by(AuditEntry.id.desc())).scalars().first()
    at = last.at + dt.timedelta(seconds=1)
    digest = entry_hash(last.hash, at, "staff_login", "staff", "mallory", "Bureau Admin", None,
                        "10.6.6.6", "curl", "", "{}")
    with attacker(db) as conn:
        conn.execute(text(
            "INSERT INTO audit_entry (at, event, actor_type, actor, role, venue_id, ip, user_agent, "
            "target, detail, prev_hash, hash, seal) VALUES (:at, 'staff_login', 'staff', 'mallory', "
            "'Bureau Admin', NULL, '10.6.6.6', 'curl', '', '{}', :p, :h, :s)"),
            {"at": at, "p": last.hash, "h": digest, "s": seal})
    return db.session.execute(select(AuditEntry.id).order_by(AuditEntry.id.desc())).scalar()


def test_every_entry_is_sealed_with_the_key(wired_app, db, sealed, make):
    ids = seed_entries(db, 3)
    make.staff("seal_admin", "Bureau Admin")  # entries written inside a flush are sealed too
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    assert len(rows) > 3 and ids[0] == rows[0].id
    for row in rows:
        assert row.seal == audit.seal_of(row.hash, KEY.encode())
    assert verify(wired_app).exit_code == 0


@pytest.mark.parametrize("seal", [None, "0" * 64])
def test_a_correctly_hashed_forgery_is_caught_by_the_seal(wired_app, db, sealed, monkeypatch, seal):
    seed_entries(db, 3)
    forged = forge_at_the_end(db, seal)
    result = verify(wired_app)
    assert result.exit_code == 1, result.output
    assert f"BROKEN at entry #{forged}" in result.output and "forged" in result.output
    # Without the key the same forgery passes: that is what the seal adds.
    monkeypatch.setitem(wired_app.config, "AUDIT_HMAC_KEY", "")
    assert verify(wired_app).exit_code == 0


def test_entries_from_before_the_key_are_counted_not_refused(wired_app, app, db, monkeypatch):
    seed_entries(db, 2)  # no key yet: unsealed
    for a in {app, wired_app}:
        monkeypatch.setitem(a.config, "AUDIT_HMAC_KEY", KEY)
    seed_entries(db, 2)
    seals = db.session.execute(select(AuditEntry.seal).order_by(AuditEntry.id)).scalars().all()
    assert seals[:2] == [None, None] and all(seals[2:])
    assert verify(wired_app).exit_code == 0


def test_the_hourly_checkpoint_job_anchors_the_chain(wired_app, app, db, tmp_path, monkeypatch):
    from app.jobs import schedule, tasks

    assert any(p.func == "app.jobs.tasks.audit_checkpoint" for p in schedule.PERIODIC)
    anchors = tmp_path / "off-host" / "anchors.txt"
    for a in {app, wired_app}:
        monkeypatch.setitem(a.config, "AUDIT_ANCHOR_FILE", str(anchors))
    seed_entries(db, 2)
    with wired_app.app_context():
        line = tasks.audit_checkpoint()
        second = tasks.audit_checkpoint()
    lines = anchors.read_text().splitlines()
    assert lines == [line, second]
    anchor_id = int(line.split()[0])
    assert db.session.get(AuditEntry, anchor_id).event == "audit_checkpoint"
    assert verify(wired_app, "--anchors", str(anchors)).exit_code == 0
    with attacker(db) as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE id >= :i"), {"i": anchor_id})
    result = verify(wired_app, "--anchors", str(anchors))
    assert result.exit_code == 1 and "tail truncation" in result.output
