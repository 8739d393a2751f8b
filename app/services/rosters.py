"""Class rosters (班級名單) and attendance sheets (點名單), as CSV, XLSX and PDF.

A roster lists the registrations that hold a seat in the course (admitted and waiting to
pay, paid, refund requested, completed) in registration order.  Staff of the course's
venue get names and phone numbers in full (they run the class); anyone else gets them
masked.  The national ID is always masked.  The documents are Chinese office documents,
like the slips and receipts.

Session dates are the term calendar's (``calendar.session_dates``): weekly on the course's
weekdays from its first date, skipping the term's no-class days and the venue's closures.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Course, Registration
from . import audit_review, clock, pdf, privacy
from .slips import masked_id

#: Registrations that hold a seat in the class, in the order they appear on the roster.
ROSTER_STATES = ("admitted", "paid", "refund_requested", "completed")
STATE_NAMES = {"admitted": "已錄取（待繳費）", "paid": "已繳費", "refund_requested": "申請退費中",
               "completed": "已結業"}
CHANNEL_NAMES = {"online": "網路", "counter": "臨櫃"}
HEADERS = ["序號", "報名序號", "學員姓名", "身分證字號", "年齡", "聯絡人", "聯絡電話", "狀態",
           "報名管道", "繳費日期"]


@dataclass
class RosterLine:
    no: int
    entry_no: str
    learner: str
    national_id: str  # always masked
    age: int
    contact: str  # the account holder (a parent for a child's registration)
    phone: str
    state: str
    channel: str
    paid_on: dt.date | None

    def cells(self) -> list:
        return [self.no, self.entry_no, self.learner, self.national_id, self.age, self.contact,
                self.phone, STATE_NAMES.get(self.state, self.state),
                CHANNEL_NAMES.get(self.channel, self.channel),
                self.paid_on.isoformat() if self.paid_on else ""]


def seated(session: Session, course: Course) -> list[Registration]:
    return session.execute(select(Registration).where(
        Registration.course_id == course.id, Registration.state.in_(ROSTER_STATES))
        .order_by(Registration.id)).scalars().all()


def roster(session: Session, course: Course, full: bool) -> list[RosterLine]:
    """The class list; ``full`` shows names and phones in clear (venue staff only)."""
    lines = []
    for no, reg in enumerate(seated(session, course), start=1):
        learner, citizen = reg.learner, reg.citizen
        contact = citizen.name if learner.relation != "self" else ""
        lines.append(RosterLine(
            no=no, entry_no=reg.entry_no,
            learner=learner.name if full else privacy.mask_name(learner.name),
            national_id=masked_id(reg),
            age=clock.age_on(learner.birth_date, course.first_date),
            contact=(contact if full else privacy.mask_name(contact)) if contact else "",
            phone=citizen.phone if full else audit_review.mask_phone(citizen.phone),
            state=reg.state, channel=reg.channel,
            paid_on=clock.taipei_today(reg.paid_at) if reg.paid_at else None))
    return lines


def title(course: Course) -> str:
    return f"{course.code} {course.title} 班級名單"


def subtitle(course: Course) -> str:
    days = "、".join("一二三四五六日"[int(d) - 1] for d in (course.weekdays or "").split(",")
                    if d.strip().isdigit() and 1 <= int(d) <= 7)
    return (f"{course.venue.name}　{course.term.name}　授課老師：{course.teacher}　"
            f"每週{days} {course.starts_at}–{course.ends_at}　{course.room}　"
            f"名額 {course.quota}")


def to_csv(lines: Sequence[RosterLine]) -> bytes:
    """UTF-8 with a BOM, so spreadsheet programs read the Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for line in lines:
        writer.writerow([_csv_safe(c) for c in line.cells()])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def to_xlsx(course: Course, lines: Sequence[RosterLine]) -> bytes:
    """Sheet 班級名單: one header row, then one row per learner; sheet 課程資訊: the course."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "班級名單"
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for line in lines:
        cells = line.cells()
        cells[9] = line.paid_on  # a real date cell
        ws.append(cells)
        if line.paid_on:
            ws.cell(row=ws.max_row, column=10).number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    for index, width in enumerate((6, 14, 12, 13, 6, 12, 14, 14, 9, 12), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    info = wb.create_sheet("課程資訊")
    for row in (("課程代碼", course.code), ("課程名稱", course.title), ("場館", course.venue.name),
                ("期別", course.term.name), ("授課老師", course.teacher), ("上課地點", course.room),
                ("上課時間", subtitle(course)), ("名額", course.quota), ("人數", len(lines)),
                ("製表時間", clock.to_taipei(clock.now()).strftime("%Y-%m-%d %H:%M"))):
        info.append(row)
    wb.properties.title = title(course)
    wb.properties.creator = "臺中市藝文研習報名系統"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def to_pdf(course: Course, lines: Sequence[RosterLine]) -> bytes:
    rows = [[str(c) for c in line.cells()] for line in lines]
    return pdf.render_table_pdf(title(course), HEADERS, rows, subtitle=subtitle(course))


# ---- attendance (點名單) ------------------------------------------------------------------

def session_dates(course: Course) -> list[dt.date]:
    from sqlalchemy.orm import object_session

    from .calendar import session_dates as dates

    return dates(object_session(course), course)


def attendance_pdf(course: Course, lines: Sequence[RosterLine], day: dt.date | None = None) -> bytes:
    """A sign-in sheet: one column per session date, or, for ``day``, one session with a
    signature column."""
    if day is not None:
        headers = ["序號", "報名序號", "學員姓名", "簽到", "備註"]
        rows = [[str(l.no), l.entry_no, l.learner, "", ""] for l in lines]
        return pdf.render_table_pdf(f"{course.code} {course.title} 點名單 {day.isoformat()}",
                                    headers, rows, subtitle=subtitle(course))
    dates = session_dates(course)
    headers = ["序號", "學員姓名"] + [f"{d.month}/{d.day}" for d in dates]
    rows = [[str(l.no), l.learner] + [""] * len(dates) for l in lines]
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm

    usable = landscape(A4)[0] - 24 * mm
    fixed = [10 * mm, 28 * mm]
    each = (usable - sum(fixed)) / max(len(dates), 1)
    return pdf.render_table_pdf(f"{course.code} {course.title} 點名單", headers, rows,
                                subtitle=subtitle(course), col_widths=fixed + [each] * len(dates))
