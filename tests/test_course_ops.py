"""Course operations: bulk import from XLSX (row-level errors, all or nothing), copying a
term's courses, applying a flow template to many courses, cancelling a course."""
from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.models import AuditEntry, Course, FlowTemplate, FlowTemplatePhase, Phase, Registration
from app.services import clock, course_ops, lottery, registration
from app.services.audit import Actor
from tests.test_office_fixtures import login, wired_app  # noqa: F401

HEADERS = [c.zh for c in course_ops.IMPORT_COLUMNS]
ACTOR = Actor(type="staff", name="tester", ip="10.0.0.1")


def row(**over):
    values = {"課程代碼": "DD115A101", "課程名稱": "油畫入門", "英文名稱": "Oil painting", "類別": "美術",
              "授課老師": "陳老師", "課程內容": "", "上課地點": "302教室", "星期": "3",
              "開始時間": "09:00", "結束時間": "12:00", "首次上課日": dt.date(2026, 3, 4),
              "最後上課日": None, "堂數": 6, "名額": 20, "最低開班人數": 8, "學費": 2800, "材料費": 0,
              "最低年齡": None, "最高年齡": None, "系列代碼": "OIL", "前期系列代碼": None}
    values.update(over)
    return [values[h] for h in HEADERS]


def workbook(rows, headers=HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.fixture()
def site(make, db, wired_app):
    venue = make.venue(code="DD", name="大墩文化中心")
    other = make.venue(code="HL", name="葫蘆墩文化中心")
    spring = make.term(venue, code="115S", name="115年春季班", starts=dt.date(2026, 3, 2),
                       no_class_days="2026-03-18")
    autumn = make.term(venue, code="116S", name="116年春季班", starts=dt.date(2027, 3, 1),
                       no_class_days="2027-03-17")
    far_term = make.term(other, code="115S", name="葫蘆墩春季班", starts=dt.date(2026, 3, 2))
    make.commit()
    make.staff("admin_a", "Venue Admin", venue)
    make.staff("clerk_a", "Venue Clerk", venue)
    return {"venue": venue, "other": other, "spring": spring, "autumn": autumn,
            "far_term": far_term}


def courses(db):
    db.session.expire_all()
    return db.session.execute(select(Course).order_by(Course.code)).scalars().all()


# -- bulk import -----------------------------------------------------------------------------

def test_bad_rows_are_reported_by_number_and_nothing_is_imported(wired_app, db, site):
    existing = course_ops.import_courses(db.session, workbook([row(課程代碼="DD115A001")]),
                                         site["spring"], ACTOR)[0]
    db.session.commit()
    rows = [
        row(課程代碼="DD115A101"),                                   # 2: good
        row(課程代碼="HL115A102"),                                   # 3: another venue's code
        row(課程代碼="DD115A101"),                                   # 4: same code as row 2
        row(課程代碼="DD115A104", 課程名稱=None),                      # 5: no title
        row(課程代碼="DD115A105", 星期="八"),                          # 6: no such weekday
        row(課程代碼="DD115A106", 開始時間="14:00", 結束時間="13:00"),   # 7: ends before it starts
        row(課程代碼="DD115A107", 首次上課日=dt.date(2025, 1, 1)),      # 8: outside the term
        row(課程代碼="DD115A108", 名額=0),                             # 9: no seats
        row(課程代碼="DD115A109", 學費="free"),                        # 10: not a number
        row(課程代碼="DD115A001"),                                   # 11: already taken
        row(課程代碼="DD115A111", 首次上課日=dt.date(2026, 3, 5)),      # 12: a Thursday, not Wed
        [None] * len(HEADERS),                                       # 13: blank: skipped
        row(課程代碼="DD115A114", 首次上課日="2026-03-18"),            # 14: a no-class day
        row(課程代碼="DD115A115", 最低年齡=12, 最高年齡=8),             # 15: ages the wrong way
        row(課程代碼="DD115A116"),                                   # 16: good
    ]
    client = login(wired_app, "admin_a")
    resp = client.post("/admin/course-ops/import?lang=en", data={
        "term": site["spring"].id, "file": (io.BytesIO(workbook(rows)), "courses.xlsx")},
        content_type="multipart/form-data")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    reported = {int(n) for n in re.findall(r'class="batch-error" data-row="(\d+)"', html)}
    assert reported == {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15}
    for text in ("Row 3", "Row 4", "DD115A101 is also on row 2", "Row 10", "DD115A001 is already taken"):
        assert text in html, text
    assert [c.code for c in courses(db)] == [existing.code]  # nothing imported
    assert not db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "courses_imported", AuditEntry.actor == "admin_a")).first()


def test_each_bad_row_is_reported_once_per_problem(db, site):
    with pytest.raises(course_ops.BatchRejected) as info:
        course_ops.import_courses(db.session, workbook([
            row(), row(課程代碼="DD115A102", 堂數=0, 名額="many"), row(課程代碼="DD115A103")]),
            site["spring"], ACTOR)
    assert [(e.row, e.column) for e in info.value.errors] == [(3, "堂數"), (3, "名額")]
    db.session.rollback()
    assert courses(db) == []


def test_a_good_workbook_is_imported(wired_app, db, site):
    client = login(wired_app, "admin_a")
    body = workbook([row(), row(課程代碼="dd115a102", 星期="一、三", 首次上課日="115/03/02",
                                開始時間=dt.time(18, 30), 結束時間="21:00")])
    resp = client.post("/admin/course-ops/import", data={
        "term": site["spring"].id, "file": (io.BytesIO(body), "courses.xlsx")},
        content_type="multipart/form-data")
    assert resp.status_code == 302
    first, second = courses(db)
    assert (first.code, first.weekdays, first.first_date) == ("DD115A101", "3", dt.date(2026, 3, 4))
    # 6 Wednesdays from 3/4 without 3/18: 3/4, 3/11, 3/25, 4/1, 4/8, 4/15
    assert first.last_date == dt.date(2026, 4, 15)
    assert (second.code, second.weekdays, second.first_date, second.starts_at) == \
        ("DD115A102", "1,3", dt.date(2026, 3, 2), "18:30")
    assert first.venue_id == site["venue"].id and first.term_id == site["spring"].id
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "courses_imported")).scalar_one()
    assert entry.actor == "admin_a" and json.loads(entry.detail)["count"] == 2


def test_not_a_workbook_and_missing_columns(db, site):
    with pytest.raises(course_ops.BatchRejected) as info:
        course_ops.import_courses(db.session, b"code,title\nDD1,x\n", site["spring"], ACTOR)
    assert info.value.errors[0].row == 0
    with pytest.raises(course_ops.BatchRejected) as info:
        course_ops.import_courses(db.session, workbook([["DD115A101"]], headers=["課程代碼", "顏色"]),
                                  site["spring"], ACTOR)
    columns = {(e.row, e.column) for e in info.value.errors}
    assert (1, "顏色") in columns and (1, "課程名稱") in columns


def test_the_template_imports_as_is(wired_app, db, site):
    client = login(wired_app, "admin_a")
    body = client.get("/admin/course-ops/import/template.xlsx").data
    assert load_workbook(io.BytesIO(body)).active.cell(1, 1).value == "課程代碼"
    created = course_ops.import_courses(db.session, body, site["spring"], ACTOR)
    assert created[0].code == "DD115A001"


def test_import_into_another_venues_term_is_refused(wired_app, db, site):
    client = login(wired_app, "admin_a")
    resp = client.post("/admin/course-ops/import", data={
        "term": site["far_term"].id, "file": (io.BytesIO(workbook([row()])), "c.xlsx")},
        content_type="multipart/form-data")
    assert resp.status_code == 403 and courses(db) == []
    clerk = login(wired_app, "clerk_a")
    resp = clerk.post("/admin/course-ops/import", data={
        "term": site["spring"].id, "file": (io.BytesIO(workbook([row()])), "c.xlsx")},
        content_type="multipart/form-data")
    assert resp.status_code == 403 and courses(db) == []


# -- copy a term -----------------------------------------------------------------------------

def test_copy_a_term_to_the_next(wired_app, db, site, make):
    course_ops.import_courses(db.session, workbook([
        row(), row(課程代碼="DD115A102", 星期="1", 首次上課日=dt.date(2026, 3, 2), 堂數=3)]),
        site["spring"], ACTOR)
    cancelled = make.course(site["venue"], site["spring"], code="DD115A199", phases=())
    cancelled.cancelled_at = clock.now()
    db.session.commit()
    client = login(wired_app, "admin_a")
    resp = client.post("/admin/course-ops/copy", data={
        "source": site["spring"].id, "target": site["autumn"].id})
    assert resp.status_code == 302
    new = {c.code: c for c in courses(db) if c.term_id == site["autumn"].id}
    assert set(new) == {"DD116A101", "DD116A102"}
    wed = new["DD116A101"]
    # 2026-03-04 + 52 weeks = 2027-03-03, a Wednesday in the new term
    assert wed.first_date == dt.date(2027, 3, 3) and wed.first_date.isoweekday() == 3
    # six Wednesdays from 3/3 without the no-class day 3/17
    assert wed.last_date == dt.date(2027, 4, 14)
    assert (wed.title, wed.teacher, wed.fee, wed.quota, wed.series_code) == \
        ("油畫入門", "陳老師", 2800, 20, "OIL")
    assert new["DD116A102"].first_date == dt.date(2027, 3, 1)
    assert all(not c.phases for c in new.values())
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.event == "courses_copied")).scalar_one()
    assert entry.actor == "admin_a" and json.loads(entry.detail)["count"] == 2
    # again: every code is taken now, nothing is copied twice
    resp = client.post("/admin/course-ops/copy?lang=en", data={
        "source": site["spring"].id, "target": site["autumn"].id})
    assert resp.status_code == 400 and "DD116A101 is already taken" in resp.get_data(as_text=True)
    assert len([c for c in courses(db) if c.term_id == site["autumn"].id]) == 2


def test_copy_refuses_other_venues_and_same_term(wired_app, db, site):
    client = login(wired_app, "admin_a")
    assert client.post("/admin/course-ops/copy", data={
        "source": site["spring"].id, "target": site["far_term"].id}).status_code == 403
    with pytest.raises(course_ops.BatchRejected):
        course_ops.copy_term(db.session, site["spring"], site["spring"], ACTOR)


# -- flow templates --------------------------------------------------------------------------

def template(db, venue, name="三階段"):
    now = clock.now()
    t = FlowTemplate(venue=venue, name=name)
    t.phases = [
        FlowTemplatePhase(seq=1, mode="first_come", eligibility="senior", seat_cap=3,
                          opens_at=now + dt.timedelta(days=1), closes_at=now + dt.timedelta(days=2)),
        FlowTemplatePhase(seq=2, mode="lottery", opens_at=now + dt.timedelta(days=3),
                          closes_at=now + dt.timedelta(days=5)),
        FlowTemplatePhase(seq=3, mode="first_come", opens_at=now + dt.timedelta(days=6),
                          closes_at=now + dt.timedelta(days=9)),
    ]
    db.session.add(t)
    db.session.commit()
    return t


def test_apply_a_template_to_many_courses(wired_app, db, site, make):
    t = template(db, site["venue"])
    a = make.course(site["venue"], site["spring"], code="DD115A301", phases=())
    b = make.course(site["venue"], site["spring"], code="DD115A302", phases=())
    busy = make.course(site["venue"], site["spring"], code="DD115A303")  # has a phase
    make.commit()
    client = login(wired_app, "admin_a")
    resp = client.post("/admin/course-ops/apply", data={"template": t.id,
                                                        "course": [a.id, b.id, busy.id]})
    assert resp.status_code == 400 and "DD115A303" in resp.get_data(as_text=True)
    assert db.session.execute(select(func.count()).select_from(Phase).where(
        Phase.course_id.in_([a.id, b.id]))).scalar() == 0  # nothing applied
    resp = client.post("/admin/course-ops/apply", data={"template": t.id,
                                                        "course": [a.id, b.id, busy.id],
                                                        "replace": "1"})
    assert resp.status_code == 302
    db.session.expire_all()
    for course in (a, b, busy):
        phases = db.session.get(Course, course.id).phases
        assert [(p.seq, p.mode, p.eligibility) for p in phases] == [
            (1, "first_come", "senior"), (2, "lottery", "everyone"), (3, "first_come", "everyone")]
        draw = phases[1]
        assert draw.seed_hex and draw.commitment == lottery.commitment(draw.seed_hex)
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "flow_template_applied")).scalar_one()
    assert json.loads(entry.detail)["courses"] == ["DD115A301", "DD115A302", "DD115A303"]
    assert "seed_hex" not in entry.detail
    for created in db.session.execute(select(AuditEntry).where(
            AuditEntry.event == "record_created", AuditEntry.target.like("phase:%"))).scalars():
        values = json.loads(created.detail)["values"]
        assert values.get("seed_hex") in (None, "***")  # the secret seed never enters the trail


def test_a_flow_with_registrations_is_never_replaced(wired_app, db, site, make):
    t = template(db, site["venue"])
    course = make.course(site["venue"], site["spring"], code="DD115A401")
    registration.apply(db.session, course, make.citizen(), None, ACTOR)
    make.commit()
    with pytest.raises(course_ops.BatchRejected) as info:
        course_ops.apply_template(db.session, t, [course], ACTOR, replace=True)
    assert info.value.errors[0].row == "DD115A401"


def test_another_venues_template_or_course_is_refused(wired_app, db, site, make):
    mine = template(db, site["venue"])
    theirs = template(db, site["other"], name="他館流程")
    own = make.course(site["venue"], site["spring"], code="DD115A501", phases=())
    far = make.course(site["other"], site["far_term"], code="HL115A501", phases=())
    make.commit()
    client = login(wired_app, "admin_a")
    assert client.post("/admin/course-ops/apply", data={"template": theirs.id,
                                                        "course": [own.id]}).status_code == 403
    assert client.post("/admin/course-ops/apply", data={"template": mine.id,
                                                        "course": [far.id]}).status_code == 403
    assert db.session.execute(select(func.count()).select_from(Phase)).scalar() == 0


# -- cancelling a course ---------------------------------------------------------------------

def test_cancel_a_course(wired_app, db, site, make):
    course = make.course(site["venue"], site["spring"], code="DD115A601", quota=5)
    regs = [registration.apply(db.session, course, make.citizen(), None, ACTOR) for _ in range(2)]
    make.commit()
    client = login(wired_app, "admin_a")
    page = client.get(f"/admin/office/courses/{course.id}/cancel").get_data(as_text=True)
    assert "2" in page and "DD115A601" in page
    resp = client.post(f"/admin/office/courses/{course.id}/cancel", data={"confirm_code": "nope"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Course, course.id).cancelled_at is None
    resp = client.post(f"/admin/office/courses/{course.id}/cancel",
                       data={"confirm_code": "DD115A601"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Course, course.id).cancelled_at is not None
    assert {db.session.get(Registration, r.id).state for r in regs} == {"cancelled"}
    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.event == "course_cancelled")).scalar_one()
    assert entry.actor == "admin_a" and json.loads(entry.detail)["cancelled"] == 2
    again = client.post(f"/admin/office/courses/{course.id}/cancel",
                        data={"confirm_code": "DD115A601"})
    assert again.status_code == 302  # already cancelled: a message, nothing else
