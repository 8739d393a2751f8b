"""The published lottery record, from the database and the public API, verifies with the
standalone verifier; before the draw only the commitment and entries are public."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from app.services import clock, draws, lottery, registration
from app.services.audit import Actor
from tests.factories import bulk_citizens

ROOT = Path(__file__).resolve().parent.parent


def test_draw_of_hundreds_verifies_and_tampering_fails(app, make, db, client, tmp_path):
    now = clock.now()
    course = make.course(make.venue(), quota=40, phases=[
        {"mode": "lottery", "opens_at": now - dt.timedelta(hours=2),
         "closes_at": now + dt.timedelta(hours=2), "auto_draw": False}])
    make.commit()
    people = bulk_citizens(db.session, 300, start=900000)
    for person in people:
        registration.apply(db.session, course, person, None, Actor())
    db.session.commit()
    withdrawn = db.session.execute(text(
        "SELECT id FROM registration WHERE course_id = :c ORDER BY id LIMIT 3"), {"c": course.id}).scalars().all()
    from app.models import Registration

    for rid in withdrawn:
        registration.withdraw(db.session, db.session.get(Registration, rid), Actor())
    db.session.commit()

    before = client.get(f"/api/v1/public/courses/{course.code}/lottery").get_json()
    phase = course.phases[0]
    assert before["commitment"] == phase.commitment == lottery.commitment(phase.seed_hex)
    assert before["seed"] is None and len(before["entries"]) == 297
    assert len(before["excluded"]) == 3
    assert all(e["ticket"] is None for e in before["entries"])
    # no personal data: only masked names and entry numbers
    assert "測試1" not in json.dumps(before, ensure_ascii=False)

    db.session.execute(text("UPDATE phase SET closes_at = :t WHERE id = :p"),
                       {"t": now - dt.timedelta(minutes=1), "p": phase.id})
    db.session.commit()
    db.session.expire_all()
    draws.draw(db.session, db.session.get(type(phase), phase.id), "2026-11-29 大樂透 05 12 19 22 33 41",
               Actor(type="staff", name="dd-admin"))
    db.session.commit()
    record = client.get(f"/api/v1/public/courses/{course.code}/lottery").get_json()
    assert record["commitment"] == before["commitment"]
    assert record["seats"] == 40
    assert sum(e["outcome"] == "admitted" for e in record["entries"]) == 40
    good = tmp_path / "record.json"
    good.write_text(json.dumps(record, ensure_ascii=False))
    ok = subprocess.run([sys.executable, "-m", "app.tools.verify_lottery", str(good)], cwd=ROOT,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    # The downloadable record is the same document
    assert json.loads(client.get(f"/courses/{course.code}/lottery.json").data) == record
    # Tampering with any published field is detected
    for mutate in (
        lambda r: r.__setitem__("seed", "1" * 64),
        lambda r: r.__setitem__("beacon", r["beacon"] + "x"),
        lambda r: r.__setitem__("seats", 41),
        lambda r: r["entries"][0].__setitem__("outcome", "waitlisted"),
        lambda r: r["entries"][45].__setitem__("position", 1),
        lambda r: r["entries"][3].__setitem__("ticket", "0" * 64),
    ):
        bad = json.loads(json.dumps(record))
        mutate(bad)
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad, ensure_ascii=False))
        res = subprocess.run([sys.executable, "-m", "app.tools.verify_lottery", str(path)],
                             cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 1, bad
    # Drawing again returns the same frozen record
    again = draws.draw(db.session, db.session.get(type(phase), phase.id), "other", Actor())
    assert again == record
    # The public page shows the record and the in-browser check
    page = client.get(f"/courses/{course.code}/lottery")
    assert page.status_code == 200 and b"verify-lottery.js" in page.data
    assert record["seed"].encode() in page.data
