"""Office outputs: class rosters (班級名單) as XLSX, CSV and PDF, attendance sheets (點名單)
and certificates of completion (研習證書), venue by venue.

The roster files are read back (openpyxl, csv, ``pdftotext``) and compared with the
database; the PDFs must give their Chinese text back.  Staff of the course's venue see
names and phone numbers in full, city-wide roles see them masked, the national ID is
always masked; another venue's course is refused; every file handed out is recorded.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import subprocess

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.models import AuditEntry, Registration
from app.services import accounts, attendance, audit_review, privacy, registration, rosters
from app.services.audit import Actor
from app.services.slips import masked_id
from tests.test_office_fixtures import login, wired_app  # noqa: F401

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="poppler-utils' pdftotext is not installed")


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF")
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=body, capture_output=True,
                         check=True)
    return out.stdout.decode("utf-8")


@pytest.fixture()
def klass(make, db, wired_app):
    """A Wednesday class at Dadun with learners in every state, and one at Huludun."""
    venue = make.venue(code="DD", name="大墩文化中心")
    other = make.venue(code="HL", name="葫蘆墩文化中心")
    start = dt.date(2026, 3, 2)  # a Monday
    term = make.term(venue, code="115S", name="115年春季班", starts=start,
                     no_class_days="2026-03-18, 2026-04-01")
    course = make.course(venue, term, code="DD115A001", title="水彩入門", teacher="林老師",
                         weekdays="3", first_date=dt.date(2026, 3, 4), sessions=6, quota=10)
    far = make.course(other, code="HL115B001", title="陶藝")
    actor = Actor(type="system", name="test")
    names = ["陳美麗", "林大同", "張小華", "王志明", "李阿花"]
    regs = {}
    for i, name in enumerate(names):
        citizen = make.citizen(name=name)
        regs[name] = registration.apply(db.session, course, citizen, None, actor)
    parent = make.citizen(name="黃爸爸")
    child = accounts.add_learner(db.session, parent, "黃小寶", dt.date(2016, 6, 1), "child")
    regs["黃小寶"] = registration.apply(db.session, course, parent, child, actor)
    db.session.flush()
    for name in ("陳美麗", "林大同", "黃小寶", "王志明"):
        registration.transition(db.session, regs[name], "paid", actor)
    registration.transition(db.session, regs["王志明"], "completed", actor)
    registration.withdraw(db.session, regs["李阿花"], actor)  # not on the roster
    outsider = registration.apply(db.session, far, make.citizen(name="外館生"), None, actor)
    make.commit()
    # Attendance of the six sessions (the venue's threshold is 75%): 林大同 came to 4 of 6.
    absent = {2: ["林大同", "王志明"], 5: ["林大同"]}
    for n, day in enumerate(rosters.session_dates(course)):
        present = {regs[name].id for name in ("陳美麗", "林大同", "張小華", "王志明", "黃小寶")
                   if name not in absent.get(n, [])}
        attendance.record(db.session, course, day, present, actor)
    make.commit()
    make.staff("admin_a", "Venue Admin", venue)
    make.staff("clerk_a", "Venue Clerk", venue)
    make.staff("admin_b", "Venue Admin", other)
    make.staff("bureau", "Bureau Admin")
    make.staff("super", "Supervisor")
    return {"venue": venue, "course": course, "far": far, "regs": regs, "outsider": outsider}


def expected_rows(db, course, full=True):
    db.session.expire_all()
    regs = db.session.execute(select(Registration).where(
        Registration.course_id == course.id, Registration.state.in_(rosters.ROSTER_STATES))
        .order_by(Registration.id)).scalars().all()
    rows = []
    for no, reg in enumerate(regs, start=1):
        name = reg.learner.name if full else privacy.mask_name(reg.learner.name)
        phone = reg.citizen.phone if full else audit_review.mask_phone(reg.citizen.phone)
        rows.append((no, reg.entry_no, name, masked_id(reg), phone,
                     rosters.STATE_NAMES[reg.state]))
    return rows


def test_roster_xlsx_opens_and_matches_the_database(wired_app, db, klass):
    client = login(wired_app, "clerk_a")
    resp = client.get(f"/admin/office/courses/{klass['course'].id}/roster.xlsx")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "DD115A001" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    sheet = wb["班級名單"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == rosters.HEADERS
    got = [(r[0], r[1], r[2], r[3], r[6], r[7]) for r in rows[1:]]
    assert got == expected_rows(db, klass["course"])
    assert len(got) == 5 and "李阿花" not in {r[2] for r in got}
    for r in got:  # the national ID never in clear: A12****789
        assert len(r[3]) == 10 and r[3][3:7] == "****"
    child = next(r for r in rows[1:] if r[2] == "黃小寶")
    assert child[5] == "黃爸爸" and child[4] == 9  # the parent is the contact; age on day one
    paid = db.session.get(Registration, klass["regs"]["陳美麗"].id).paid_at
    paid_cell = next(r for r in rows[1:] if r[2] == "陳美麗")[9]
    assert paid_cell.date() == (paid + dt.timedelta(hours=8)).date()
    info = dict(wb["課程資訊"].iter_rows(values_only=True))
    assert info["課程代碼"] == "DD115A001" and info["場館"] == "大墩文化中心" and info["人數"] == 5


def test_roster_csv_matches_and_is_excel_friendly(wired_app, db, klass):
    client = login(wired_app, "admin_a")
    resp = client.get(f"/admin/office/courses/{klass['course'].id}/roster.csv")
    assert resp.status_code == 200 and resp.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert table[0] == rosters.HEADERS
    got = [(int(r[0]), r[1], r[2], r[3], r[6], r[7]) for r in table[1:]]
    assert got == expected_rows(db, klass["course"])


def test_city_wide_roles_get_masked_names_and_phones(wired_app, db, klass):
    client = login(wired_app, "bureau")
    resp = client.get(f"/admin/office/courses/{klass['course'].id}/roster.xlsx")
    rows = list(load_workbook(io.BytesIO(resp.data))["班級名單"].iter_rows(values_only=True))
    got = [(r[0], r[1], r[2], r[3], r[6], r[7]) for r in rows[1:]]
    assert got == expected_rows(db, klass["course"], full=False)
    assert "陳○麗" in {r[2] for r in got} and "陳美麗" not in {r[2] for r in got}
    export = db.session.execute(select(AuditEntry).where(AuditEntry.event == "export")).scalar_one()
    assert json.loads(export.detail)["personal_data"] == "masked"


@needs_pdftotext
def test_roster_pdf_gives_back_its_chinese_text(wired_app, db, klass):
    client = login(wired_app, "clerk_a")
    text = pdf_text(client.get(f"/admin/office/courses/{klass['course'].id}/roster.pdf").data)
    for word in ("DD115A001 水彩入門 班級名單", "大墩文化中心", "115年春季班", "林老師", "學員姓名",
                 "身分證字號", "陳美麗", "林大同", "黃小寶", "已繳費", "已結業", "已錄取（待繳費）"):
        assert word in text, word
    assert "李阿花" not in text


def test_attendance_dates_skip_no_class_days(wired_app, db, klass):
    course = klass["course"]
    assert rosters.session_dates(course) == [
        dt.date(2026, 3, 4), dt.date(2026, 3, 11), dt.date(2026, 3, 25), dt.date(2026, 4, 8),
        dt.date(2026, 4, 15), dt.date(2026, 4, 22)]


@needs_pdftotext
def test_attendance_sheets(wired_app, db, klass):
    course = klass["course"]
    client = login(wired_app, "clerk_a")
    text = pdf_text(client.get(f"/admin/office/courses/{course.id}/attendance.pdf").data)
    assert "點名單" in text and "陳美麗" in text
    for header in ("3/4", "3/11", "3/25", "4/8", "4/15", "4/22"):
        assert header in text, header
    assert "3/18" not in text and "4/1 " not in text
    one = client.get(f"/admin/office/courses/{course.id}/attendance.pdf?date=2026-03-25")
    assert one.status_code == 200 and "2026-03-25" in pdf_text(one.data) and "簽到" in pdf_text(one.data)
    assert client.get(f"/admin/office/courses/{course.id}/attendance.pdf?date=2026-03-18").status_code == 404
    assert client.get(f"/admin/office/courses/{course.id}/attendance.pdf?date=soon").status_code == 400


@needs_pdftotext
def test_class_certificates_only_for_eligible_learners(wired_app, db, klass):
    course = klass["course"]
    client = login(wired_app, "clerk_a")
    resp = client.get(f"/admin/office/courses/{course.id}/certificates.pdf")
    assert resp.status_code == 200
    text = pdf_text(resp.data)
    assert text.count("研 習 證 書") == 3  # paid and completed, with 75% attendance
    for word in ("大墩文化中心", "水彩入門", "陳美麗", "黃小寶", "王志明"):
        assert word in text, word
    assert "林大同" not in text  # paid, but came to 4 of 6 sessions (66.7%)
    assert "張小華" not in text and "李阿花" not in text  # admitted-unpaid, withdrawn
    regs = db.session.execute(select(Registration.id).where(
        Registration.course_id == course.id).order_by(Registration.id)).scalars().all()
    first = klass["regs"]["陳美麗"].id
    assert f"DD-115A001-{regs.index(first) + 1:04d}" in text
    issued = db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "certificates_issued")).scalar_one()
    assert json.loads(issued.detail)["count"] == 3 and issued.actor == "clerk_a"


@needs_pdftotext
def test_one_certificate_and_a_stable_serial(wired_app, db, klass):
    client = login(wired_app, "admin_a")
    reg = klass["regs"]["王志明"]
    first = pdf_text(client.get(f"/admin/office/registrations/{reg.id}/certificate.pdf").data)
    again = pdf_text(client.get(f"/admin/office/registrations/{reg.id}/certificate.pdf").data)
    serial = re.search(r"DD-115A001-\d{4}", first).group(0)
    assert serial in again and first.count("研 習 證 書") == 1 and "王志明" in first
    unpaid = klass["regs"]["張小華"]
    resp = client.get(f"/admin/office/registrations/{unpaid.id}/certificate.pdf")
    assert resp.status_code == 302 and "/admin/office/courses/" in resp.headers["Location"]


@pytest.mark.parametrize("path", [
    "/admin/office/courses/{far}", "/admin/office/courses/{far}/roster.xlsx",
    "/admin/office/courses/{far}/roster.csv", "/admin/office/courses/{far}/roster.pdf",
    "/admin/office/courses/{far}/attendance.pdf", "/admin/office/courses/{far}/certificates.pdf",
    "/admin/office/registrations/{outsider}/certificate.pdf",
    "/admin/office/courses/{far}/cancel",
])
def test_another_venues_course_is_refused(wired_app, db, klass, path):
    client = login(wired_app, "admin_a")
    url = path.format(far=klass["far"].id, outsider=klass["outsider"].id)
    assert client.get(url).status_code == 403
    assert client.post(url).status_code in (403, 405)
    mine = path.format(far=klass["course"].id, outsider=klass["regs"]["王志明"].id)
    assert client.get(mine).status_code == 200  # the positive twin
    db.session.expire_all()
    assert not db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "export", AuditEntry.target.like(f"%:{klass['far'].id}"))).first()


def test_office_list_shows_only_own_venue(wired_app, db, klass):
    client = login(wired_app, "admin_b")
    html = client.get("/admin/office/").get_data(as_text=True)
    assert "HL115B001" in html and "DD115A001" not in html


def test_clerk_may_not_cancel_and_supervisor_gets_no_rosters(wired_app, db, klass):
    course = klass["course"]
    clerk = login(wired_app, "clerk_a")
    assert clerk.get(f"/admin/office/courses/{course.id}/cancel").status_code == 403
    assert clerk.post(f"/admin/office/courses/{course.id}/cancel",
                      data={"confirm_code": course.code}).status_code == 403
    supervisor = login(wired_app, "super")
    assert supervisor.get(f"/admin/office/courses/{course.id}/roster.xlsx").status_code == 403
    db.session.expire_all()
    assert db.session.get(type(course), course.id).cancelled_at is None


def test_exports_are_recorded_with_ip(wired_app, db, klass):
    client = login(wired_app, "clerk_a")
    for fmt in ("csv", "xlsx", "pdf"):
        client.get(f"/admin/office/courses/{klass['course'].id}/roster.{fmt}")
    db.session.expire_all()
    rows = db.session.execute(select(AuditEntry).where(AuditEntry.event == "export")
                              .order_by(AuditEntry.id)).scalars().all()
    assert [json.loads(r.detail)["format"] for r in rows] == ["csv", "xlsx", "pdf"]
    assert all(r.actor == "clerk_a" and r.ip == "10.1.2.3" for r in rows)
    assert all(json.loads(r.detail)["rows"] == 5 for r in rows)
