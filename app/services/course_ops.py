"""Course operations of a venue: copy a term's courses to a new term, bulk import from
XLSX, apply a flow template to many courses, cancel a course.

Every operation is all-or-nothing: it validates everything first and, if anything is
wrong, raises :class:`BatchRejected` listing every problem (an import names each bad row
by its row number in the workbook) and changes nothing.  Each successful operation is
recorded in the security trail; the caller commits.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Course, FlowTemplate, Phase, Registration, Term
from . import audit, clock, draws  # noqa: F401  (draws: lottery phases get their commitment)
from .audit import Actor
from .errors import DomainError

MAX_IMPORT_ROWS = 2000


@dataclass
class RowError:
    """One problem: ``row`` is the workbook row (1 = the header row) or 0 for the file,
    or a course code for copy/apply operations."""

    row: int | str
    column: str
    message: str

    def __str__(self) -> str:
        where = str(_l("Row %(row)s", row=self.row)) if isinstance(self.row, int) and self.row \
            else str(self.row or _l("File"))
        return f"{where}{' · ' + self.column if self.column else ''}: {self.message}"


class BatchRejected(DomainError):
    """Nothing was changed; ``errors`` says why, item by item."""

    status = 400
    code = "batch_rejected"

    def __init__(self, errors: Sequence[RowError], message=None):
        self.errors = list(errors)
        super().__init__(message or _l("Nothing was changed: %(n)s problems found."),
                         n=len(self.errors))


# ---------------------------------------------------------------------------------------
# Shared: session dates, weekdays
# ---------------------------------------------------------------------------------------

def _weekday_set(weekdays: str) -> set[int]:
    return {int(p) for p in (weekdays or "").split(",") if p.strip().isdigit()}


def _no_class_days(term: Term) -> set[dt.date]:
    days = set()
    for part in (term.no_class_days or "").replace("\n", ",").split(","):
        try:
            days.add(dt.date.fromisoformat(part.strip()))
        except ValueError:
            continue
    return days


def last_session_date(first: dt.date, weekdays: str, sessions: int, term: Term) -> dt.date:
    """The date of the last session, by the refund rules' calendar."""
    from .refunds import session_dates

    shape = SimpleNamespace(first_date=first, weekdays=weekdays, sessions=sessions,
                            term=SimpleNamespace(no_class_days=term.no_class_days or ""))
    last = first
    for last in session_dates(shape):
        pass
    return last


# ---------------------------------------------------------------------------------------
# Copy a term's courses to another term
# ---------------------------------------------------------------------------------------

COPIED_FIELDS = ("title", "title_en", "category", "teacher", "description", "room", "weekdays",
                 "starts_at", "ends_at", "sessions", "quota", "min_enrolment", "fee",
                 "materials_fee", "age_min", "age_max", "series_code", "predecessor_series")


def default_code_change(source: Term, target: Term) -> tuple[str, str]:
    """The ROC years of the two terms, e.g. ("115", "116")."""
    return (str(clock.roc_year(source.starts_on.year)), str(clock.roc_year(target.starts_on.year)))


def _shifted_first(course: Course, source: Term, target: Term) -> dt.date:
    """Same weekday, as many whole weeks later as the terms are apart, never before the
    new term starts nor on one of its no-class days."""
    weeks = (target.starts_on - source.starts_on).days // 7
    first = course.first_date + dt.timedelta(weeks=weeks)
    skip = _no_class_days(target)
    while first < target.starts_on or first in skip:
        first += dt.timedelta(weeks=1)
    return first


def copy_term(session: Session, source: Term, target: Term, actor: Actor, *,
              code_from: str | None = None, code_to: str | None = None) -> list[Course]:
    """Copy every course of ``source`` that is not cancelled into ``target`` (same venue).

    New codes replace ``code_from`` with ``code_to`` once (default: the terms' ROC years,
    ``DD115A001`` → ``DD116A001``).  Dates move by whole weeks; the last date follows the
    new term's no-class days.  Registration flows are not copied: apply a flow template."""
    if source.id == target.id:
        raise BatchRejected([RowError(0, "", str(_l("Choose two different terms.")))])
    if source.venue_id != target.venue_id:
        raise BatchRejected([RowError(0, "", str(_l("Both terms must belong to the same venue.")))])
    default_from, default_to = default_code_change(source, target)
    code_from = (code_from or default_from).strip().upper()
    code_to = (code_to if code_to is not None else default_to).strip().upper()
    if not code_from or code_from == code_to:
        raise BatchRejected([RowError(0, "", str(_l(
            "Say which part of the course codes changes, e.g. 115 → 116.")))])
    courses = session.execute(select(Course).where(
        Course.term_id == source.id, Course.cancelled_at.is_(None)).order_by(Course.code)
    ).scalars().all()
    if not courses:
        raise BatchRejected([RowError(0, "", str(_l("The source term has no courses to copy.")))])
    errors, planned, seen = [], [], set()
    for course in courses:
        if code_from not in course.code:
            errors.append(RowError(course.code, "code", str(_l(
                "The code does not contain %(part)s.", part=code_from))))
            continue
        new_code = course.code.replace(code_from, code_to, 1)
        if len(new_code) > 16 or not new_code:
            errors.append(RowError(course.code, "code", str(_l("The new code %(code)s is too long.",
                                                               code=new_code))))
            continue
        if new_code in seen or session.execute(select(Course.id).where(Course.code == new_code)).first():
            errors.append(RowError(course.code, "code", str(_l("The code %(code)s is already taken.",
                                                               code=new_code))))
            continue
        seen.add(new_code)
        first = _shifted_first(course, source, target)
        last = last_session_date(first, course.weekdays, course.sessions, target)
        if last > target.ends_on:
            errors.append(RowError(course.code, "last_date", str(_l(
                "The last session (%(day)s) would fall after the term ends.", day=last.isoformat()))))
            continue
        planned.append((course, new_code, first, last))
    if errors:
        raise BatchRejected(errors)
    created = []
    for course, new_code, first, last in planned:
        copy = Course(code=new_code, venue_id=target.venue_id, term_id=target.id,
                      first_date=first, last_date=last,
                      **{name: getattr(course, name) for name in COPIED_FIELDS})
        session.add(copy)
        created.append(copy)
    session.flush()
    audit.record(session, "courses_copied", actor, target=f"term:{target.id}",
                 detail={"from_term": source.code, "to_term": target.code, "count": len(created),
                         "codes": [c.code for c in created][:500]})
    return created


# ---------------------------------------------------------------------------------------
# Bulk import from XLSX
# ---------------------------------------------------------------------------------------

class _Bad(ValueError):
    """A cell that does not parse; the message is for people."""


def _text(limit: int, required: bool = True) -> Callable[[Any], str | None]:
    def parse(value):
        text = "" if value is None else str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if not text:
            if required:
                raise _Bad(str(_l("This column is required.")))
            return None
        if len(text) > limit:
            raise _Bad(str(_l("At most %(n)s characters.", n=limit)))
        return text
    return parse


def _int(minimum: int, maximum: int, required: bool = True, default: int | None = None):
    def parse(value):
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise _Bad(str(_l("This column is required.")))
            return default
        if isinstance(value, bool):
            raise _Bad(str(_l("A whole number is needed.")))
        if isinstance(value, float):
            if not value.is_integer():
                raise _Bad(str(_l("A whole number is needed.")))
            value = int(value)
        if isinstance(value, str):
            raw = value.strip().replace(",", "")
            if not re.fullmatch(r"-?\d+", raw):
                raise _Bad(str(_l("A whole number is needed.")))
            value = int(raw)
        if not isinstance(value, int):
            raise _Bad(str(_l("A whole number is needed.")))
        if not minimum <= value <= maximum:
            raise _Bad(str(_l("Between %(min)s and %(max)s.", min=minimum, max=maximum)))
        return value
    return parse


_WEEKDAY_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7,
                  "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


def _weekdays(value) -> str:
    if value is None or not str(value).strip():
        raise _Bad(str(_l("This column is required.")))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    raw = str(value).strip().lower()
    found = set()
    for part in re.split(r"[,、，\s/]+|(?<=[一二三四五六日天])(?=[一二三四五六日天])", raw):
        part = part.strip().removeprefix("週").removeprefix("星期").removeprefix("周")
        if not part:
            continue
        if part.isdigit() and 1 <= int(part) <= 7:
            found.add(int(part))
        elif part[:3] in _WEEKDAY_WORDS:
            found.add(_WEEKDAY_WORDS[part[:3]])
        elif part in _WEEKDAY_WORDS:
            found.add(_WEEKDAY_WORDS[part])
        else:
            raise _Bad(str(_l("Weekdays are numbers 1 (Monday) to 7 (Sunday), e.g. 1,3.")))
    if not found:
        raise _Bad(str(_l("Weekdays are numbers 1 (Monday) to 7 (Sunday), e.g. 1,3.")))
    return ",".join(str(d) for d in sorted(found))


def _time(value) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Bad(str(_l("This column is required.")))
    if isinstance(value, dt.datetime):
        value = value.time()
    if isinstance(value, dt.time):
        return f"{value.hour:02d}:{value.minute:02d}"
    m = re.fullmatch(r"(\d{1,2})[:：](\d{2})", str(value).strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise _Bad(str(_l("A time like 09:30 is needed.")))
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def _date(required: bool = True):
    def parse(value):
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise _Bad(str(_l("This column is required.")))
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        raw = str(value).strip()
        m = re.fullmatch(r"(\d{2,4})[-/.](\d{1,2})[-/.](\d{1,2})", raw)
        if m:
            year = int(m.group(1))
            year = year + 1911 if year < 1000 else year  # ROC year, e.g. 115/03/02
            try:
                return dt.date(year, int(m.group(2)), int(m.group(3)))
            except ValueError:
                pass
        raise _Bad(str(_l("A date like 2026-03-02 (or 115/03/02) is needed.")))
    return parse


@dataclass(frozen=True)
class ImportColumn:
    key: str
    zh: str
    en: str
    parse: Callable[[Any], Any]
    required: bool = True


IMPORT_COLUMNS = (
    ImportColumn("code", "課程代碼", "Course code", _text(16)),
    ImportColumn("title", "課程名稱", "Title", _text(120)),
    ImportColumn("title_en", "英文名稱", "English title", _text(160, False), False),
    ImportColumn("category", "類別", "Category", _text(32)),
    ImportColumn("teacher", "授課老師", "Teacher", _text(64)),
    ImportColumn("description", "課程內容", "Content", _text(5000, False), False),
    ImportColumn("room", "上課地點", "Room", _text(64, False), False),
    ImportColumn("weekdays", "星期", "Weekdays", _weekdays),
    ImportColumn("starts_at", "開始時間", "Starts at", _time),
    ImportColumn("ends_at", "結束時間", "Ends at", _time),
    ImportColumn("first_date", "首次上課日", "First date", _date()),
    ImportColumn("last_date", "最後上課日", "Last date", _date(False), False),
    ImportColumn("sessions", "堂數", "Sessions", _int(1, 200)),
    ImportColumn("quota", "名額", "Quota", _int(1, 1000)),
    ImportColumn("min_enrolment", "最低開班人數", "Minimum enrolment", _int(1, 1000, False, 1), False),
    ImportColumn("fee", "學費", "Fee", _int(0, 1_000_000)),
    ImportColumn("materials_fee", "材料費", "Materials fee", _int(0, 1_000_000, False, 0), False),
    ImportColumn("age_min", "最低年齡", "Minimum age", _int(0, 120, False), False),
    ImportColumn("age_max", "最高年齡", "Maximum age", _int(0, 120, False), False),
    ImportColumn("series_code", "系列代碼", "Series", _text(32, False), False),
    ImportColumn("predecessor_series", "前期系列代碼", "Predecessor series", _text(32, False), False),
)
_CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]*")


def _header_index(headers: Sequence[Any]) -> tuple[dict[str, int], list[RowError]]:
    names = {}
    for column in IMPORT_COLUMNS:
        for name in (column.key, column.zh, column.en):
            names[name.strip().lower()] = column.key
    index, errors = {}, []
    for position, header in enumerate(headers):
        text = str(header or "").strip().lower()
        if not text:
            continue
        key = names.get(text)
        if key is None:
            errors.append(RowError(1, str(header), str(_l("Unknown column."))))
        elif key in index:
            errors.append(RowError(1, str(header), str(_l("The column appears twice."))))
        else:
            index[key] = position
    for column in IMPORT_COLUMNS:
        if column.required and column.key not in index:
            errors.append(RowError(1, column.zh, str(_l("The column is missing."))))
    return index, errors


def _read_rows(raw: bytes):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise BatchRejected([RowError(0, "", str(_l("The file is not an Excel workbook (.xlsx).")))])
    try:
        return [tuple(row) for row in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()


def parse_import(session: Session, raw: bytes, term: Term) -> list[dict]:
    """Every data row as course fields, or :class:`BatchRejected` with every bad row."""
    rows = _read_rows(raw)
    if not rows:
        raise BatchRejected([RowError(0, "", str(_l("The workbook is empty.")))])
    index, errors = _header_index(rows[0])
    if errors:
        raise BatchRejected(errors)
    data = [(n, r) for n, r in enumerate(rows[1:], start=2)
            if any(c is not None and str(c).strip() for c in r)]
    if not data:
        raise BatchRejected([RowError(0, "", str(_l("The workbook has no course rows.")))])
    if len(data) > MAX_IMPORT_ROWS:
        raise BatchRejected([RowError(0, "", str(_l("At most %(n)s courses per file.",
                                                    n=MAX_IMPORT_ROWS)))])
    venue = term.venue
    skip = _no_class_days(term)
    taken = set(session.execute(select(Course.code)).scalars())
    seen: dict[str, int] = {}
    parsed = []
    for number, row in data:
        values, row_errors = {}, []
        for column in IMPORT_COLUMNS:
            position = index.get(column.key)
            cell = row[position] if position is not None and position < len(row) else None
            try:
                values[column.key] = column.parse(cell)
            except _Bad as exc:
                row_errors.append(RowError(number, column.zh, str(exc)))
        code = values.get("code")
        if code:
            code = values["code"] = code.upper()
            if not _CODE_PATTERN.fullmatch(code):
                row_errors.append(RowError(number, "課程代碼", str(_l(
                    "Letters, digits and hyphens only."))))
            elif not code.startswith(venue.code):
                row_errors.append(RowError(number, "課程代碼", str(_l(
                    "The code must start with the venue code %(code)s.", code=venue.code))))
            elif code in taken:
                row_errors.append(RowError(number, "課程代碼", str(_l(
                    "The code %(code)s is already taken.", code=code))))
            elif code in seen:
                row_errors.append(RowError(number, "課程代碼", str(_l(
                    "The code %(code)s is also on row %(row)s.", code=code, row=seen[code]))))
            else:
                seen[code] = number
        starts, ends = values.get("starts_at"), values.get("ends_at")
        if starts and ends and ends <= starts:
            row_errors.append(RowError(number, "結束時間", str(_l("The class must end after it starts."))))
        first, weekdays = values.get("first_date"), values.get("weekdays")
        if first:
            if not term.starts_on <= first <= term.ends_on:
                row_errors.append(RowError(number, "首次上課日", str(_l(
                    "The first date must be within the term (%(start)s to %(end)s).",
                    start=term.starts_on.isoformat(), end=term.ends_on.isoformat()))))
            elif weekdays and first.isoweekday() not in _weekday_set(weekdays):
                row_errors.append(RowError(number, "首次上課日", str(_l(
                    "The first date is not on one of the course's weekdays."))))
            elif first in skip:
                row_errors.append(RowError(number, "首次上課日", str(_l(
                    "The first date is one of the term's no-class days."))))
        if first and weekdays and values.get("sessions") and not row_errors:
            computed = last_session_date(first, weekdays, values["sessions"], term)
            last = values.get("last_date") or computed
            if last < first:
                row_errors.append(RowError(number, "最後上課日", str(_l(
                    "The last date is before the first date."))))
            elif last > term.ends_on:
                row_errors.append(RowError(number, "最後上課日", str(_l(
                    "The last session (%(day)s) falls after the term ends.", day=last.isoformat()))))
            values["last_date"] = last
        quota, minimum = values.get("quota"), values.get("min_enrolment")
        if quota and minimum and minimum > quota:
            row_errors.append(RowError(number, "最低開班人數", str(_l(
                "The minimum enrolment is larger than the quota."))))
        low, high = values.get("age_min"), values.get("age_max")
        if low is not None and high is not None and low > high:
            row_errors.append(RowError(number, "最高年齡", str(_l(
                "The maximum age is below the minimum age."))))
        errors += row_errors
        parsed.append(values)
    if errors:
        raise BatchRejected(errors)
    return parsed


def import_courses(session: Session, raw: bytes, term: Term, actor: Actor,
                   filename: str = "") -> list[Course]:
    """Create every course of the workbook in ``term``, or none (BatchRejected)."""
    rows = parse_import(session, raw, term)
    created = []
    try:
        with session.begin_nested():
            for values in rows:
                values = {k: ("" if v is None and k in ("title_en", "description", "room") else v)
                          for k, v in values.items()}
                course = Course(venue_id=term.venue_id, term_id=term.id, **values)
                session.add(course)
                created.append(course)
            session.flush()
    except IntegrityError:
        raise BatchRejected([RowError(0, "", str(_l(
            "Another import took some of these codes at the same moment; nothing was imported.")))])
    audit.record(session, "courses_imported", actor, target=f"term:{term.id}",
                 detail={"term": term.code, "count": len(created), "file": filename[:120],
                         "codes": [c.code for c in created][:500]})
    return created


def template_xlsx() -> bytes:
    """An empty import workbook with the headers and one example row."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "課程"
    ws.append([c.zh for c in IMPORT_COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.append(["DD115A001", "水彩入門", "Watercolour basics", "美術", "林老師", "", "301教室", "3",
               "09:00", "12:00", "2026-03-04", "", 12, 20, 8, 2800, 300, 18, "", "", ""])
    notes = wb.create_sheet("說明")
    for column in IMPORT_COLUMNS:
        notes.append([column.zh, column.en, "必填" if column.required else "選填"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# Flow templates
# ---------------------------------------------------------------------------------------

def apply_template(session: Session, template: FlowTemplate, courses: Sequence[Course],
                   actor: Actor, *, replace: bool = False) -> int:
    """Give every course the template's phases.  A course that already has phases is
    refused unless ``replace``; phases with registrations or a drawn lottery are never
    replaced.  Lottery phases get their seed commitment as they are created."""
    errors = []
    if not template.phases:
        errors.append(RowError(0, "", str(_l("The template has no phases."))))
    if not courses:
        errors.append(RowError(0, "", str(_l("Choose at least one course."))))
    for course in courses:
        if course.venue_id != template.venue_id:
            errors.append(RowError(course.code, "", str(_l("The course belongs to another venue."))))
        elif course.cancelled_at is not None:
            errors.append(RowError(course.code, "", str(_l("The course is cancelled."))))
        elif course.phases and not replace:
            errors.append(RowError(course.code, "", str(_l(
                "The course already has a registration flow (choose replace)."))))
        elif course.phases:
            phase_ids = [p.id for p in course.phases]
            used = session.execute(select(Registration.id).where(
                Registration.phase_id.in_(phase_ids)).limit(1)).first()
            if used or any(p.drawn_at is not None for p in course.phases):
                errors.append(RowError(course.code, "", str(_l(
                    "The course's flow has registrations or a drawn lottery and cannot be replaced."))))
    if errors:
        raise BatchRejected(errors)
    for course in courses:
        for phase in list(course.phases):
            course.phases.remove(phase)
    session.flush()
    for course in courses:
        for tp in template.phases:
            course.phases.append(Phase(
                seq=tp.seq, mode=tp.mode, eligibility=tp.eligibility, identity=tp.identity,
                seat_cap=tp.seat_cap, opens_at=tp.opens_at, closes_at=tp.closes_at,
                auto_draw=tp.auto_draw))
    session.flush()
    audit.record(session, "flow_template_applied", actor, target=f"flow_template:{template.id}",
                 detail={"template": template.name, "courses": [c.code for c in courses][:500],
                         "replace": replace, "phases": len(template.phases)})
    return len(courses)


# ---------------------------------------------------------------------------------------
# Cancelling a course
# ---------------------------------------------------------------------------------------

def cancel_course(session: Session, course: Course, actor: Actor) -> dict[str, int]:
    """Cancel the course: registrations cancelled, paid ones refunded in full, everyone
    notified (``app.services.refunds.cancel_course``)."""
    if course.cancelled_at is not None:
        raise DomainError(_l("The course is already cancelled."), code="already_cancelled")
    from .refunds import cancel_course as cancel

    return cancel(session, course, actor)
