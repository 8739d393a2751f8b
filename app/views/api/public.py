"""Open data: the catalogue, live counts, admission lists and lottery records.

No personal data beyond masked names and public entry numbers.  The OpenAPI document of
this API is published at ``/api/v1/public/openapi.json``."""
from __future__ import annotations

import json

from apispec import APISpec
from flask import current_app, request
from flask_appbuilder.api import BaseApi, expose

from ...extensions import db
from ...services import catalogue as catalogue_service
from ...services import clock
from ...services.errors import DomainError
from ...services.ids import parse_id


def phase_json(p) -> dict:
    return {
        "seq": p.seq, "mode": p.mode, "eligibility": p.eligibility, "identity": p.identity,
        "seat_cap": p.seat_cap, "opens_at": p.opens_at.isoformat() + "Z",
        "closes_at": p.closes_at.isoformat() + "Z", "commitment": p.commitment,
        "drawn_at": p.drawn_at.isoformat() + "Z" if p.drawn_at else None,
    }


def course_json(c, counts, now, detail: bool = False) -> dict:
    phase = catalogue_service.current_phase(c, now)
    data = {
        "code": c.code, "title": c.title, "title_en": c.title_en or None,
        "venue": {"code": c.venue.code, "name": c.venue.name, "name_en": c.venue.name_en},
        "term": {"code": c.term.code, "name": c.term.name},
        "category": c.category, "teacher": c.teacher, "room": c.room,
        "weekdays": [int(d) for d in c.weekdays.split(",") if d.strip().isdigit()],
        "starts_at": c.starts_at, "ends_at": c.ends_at,
        "first_date": c.first_date.isoformat(), "last_date": c.last_date.isoformat(),
        "sessions": c.sessions, "quota": c.quota, "fee": c.fee, "materials_fee": c.materials_fee,
        "status": catalogue_service.course_status(c, now),
        "current_phase": phase.seq if phase else None,
        "counts": {**counts.as_dict(), "seats_left": c.seats_left},
        "cancelled": c.cancelled_at is not None,
    }
    if detail:
        data.update({
            "description": c.description, "min_enrolment": c.min_enrolment,
            "age_min": c.age_min, "age_max": c.age_max, "series_code": c.series_code,
            "phases": [phase_json(p) for p in c.phases],
        })
    return data


class PublicApi(BaseApi):
    resource_name = "public"
    openapi_spec_tag = "Public open data"
    csrf_exempt = True

    def _error(self, exc: DomainError):
        return self.response(exc.status, error=exc.code, message=str(exc))

    @expose("/courses", methods=["GET"])
    def courses(self):
        """Search the catalogue.
        ---
        get:
          summary: Courses of every venue, filtered and paginated
          description: An empty filter (`status=`) is the same as no filter.
          parameters:
          - {in: query, name: q, allowEmptyValue: true, schema: {type: string}, description: "text in the title, teacher, code, description or category; only its first 100 characters are used"}
          - {in: query, name: venue, allowEmptyValue: true, schema: {type: string}}
          - {in: query, name: term, allowEmptyValue: true, schema: {type: string}}
          - {in: query, name: category, allowEmptyValue: true, schema: {type: string}}
          - {in: query, name: weekday, allowEmptyValue: true, schema: {type: integer, minimum: 1, maximum: 7}}
          - {in: query, name: time, allowEmptyValue: true, schema: {type: string, enum: [morning, afternoon, evening]}}
          - {in: query, name: status, allowEmptyValue: true, schema: {type: string, enum: [open, full, upcoming, closed]}}
          - {in: query, name: page, allowEmptyValue: true, schema: {type: integer, minimum: 1}}
          - {in: query, name: per_page, allowEmptyValue: true, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200:
              description: A page of courses with live counts
              content:
                application/json:
                  schema: {type: object}
            400:
              description: A filter value is invalid
              content:
                application/json:
                  schema: {type: object}
            404:
              description: The page does not exist
              content:
                application/json:
                  schema: {type: object}
        """
        try:
            query = catalogue_service.CatalogueQuery.from_args(request.args)
            page = catalogue_service.search(db.session, query)
        except DomainError as exc:
            return self._error(exc)
        now = clock.now()
        return self.response(200, total=page.total, page=page.page, per_page=page.per_page,
                             pages=page.pages,
                             courses=[course_json(c, page.counts[c.id], now) for c in page.items])

    @expose("/courses/<code>", methods=["GET"])
    def course(self, code):
        """One course with its phases and live counts.
        ---
        get:
          summary: One course
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          responses:
            200:
              description: The course
              content:
                application/json:
                  schema: {type: object}
            404:
              description: No course has that code
              content:
                application/json:
                  schema: {type: object}
        """
        try:
            c = catalogue_service.get_course(db.session, code)
        except DomainError as exc:
            return self._error(exc)
        counts = catalogue_service.live_counts(db.session, [c.id])[c.id]
        # not self.response(**…): the course's "code" would clash with its status argument
        return current_app.response_class(
            json.dumps(course_json(c, counts, clock.now(), detail=True), ensure_ascii=False),
            mimetype="application/json")

    @expose("/courses/<code>/admissions", methods=["GET"])
    def admissions(self, code):
        """The admission list and waitlist, masked.
        ---
        get:
          summary: Admitted entries and the waitlist in order (masked names, entry numbers)
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          responses:
            200:
              description: The lists
              content:
                application/json:
                  schema: {type: object}
            404:
              description: No course has that code
              content:
                application/json:
                  schema: {type: object}
        """
        from ...services import public_lists

        try:
            c = catalogue_service.get_course(db.session, code)
        except DomainError as exc:
            return self._error(exc)
        lists = public_lists.admission_lists(db.session, c)
        return self.response(
            200, course_code=c.code, quota=c.quota, seats_left=c.seats_left,
            admitted=[{"entry_no": e.entry_no, "masked_name": e.masked_name, "status": e.state}
                      for e in lists["admitted"]],
            waitlist=[{"position": e.position, "entry_no": e.entry_no,
                       "masked_name": e.masked_name} for e in lists["waitlist"]],
            applied=[{"entry_no": e.entry_no, "masked_name": e.masked_name}
                     for e in lists["applied"]])

    @expose("/courses/<code>/lottery", methods=["GET"])
    def lottery(self, code):
        """The lottery record of specs/lottery.md (commitment before the draw, everything after).
        ---
        get:
          summary: The verifiable lottery record
          parameters:
          - {in: path, name: code, required: true, schema: {type: string}}
          - {in: query, name: phase, schema: {type: integer, minimum: 1}, description: "phase number when a course has several lottery phases (default the latest drawn, else the first)"}
          responses:
            200:
              description: The record (course_code, commitment, seed, beacon, seats, drawn_at, algorithm, entries, excluded)
              content:
                application/json:
                  schema: {type: object}
            404:
              description: No such course or it has no lottery
              content:
                application/json:
                  schema: {type: object}
        """
        from ...services import draws, public_lists

        try:
            c = catalogue_service.get_course(db.session, code)
        except DomainError as exc:
            return self._error(exc)
        phases = public_lists.lottery_phases(c)
        raw = request.args.get("phase")
        if raw is not None:
            phases = [p for p in phases if p.seq == parse_id(raw)]
        if not phases:
            return self.response(404, error="no_lottery", message="This course has no such lottery.")
        drawn = [p for p in phases if p.drawn_at]
        phase = drawn[-1] if drawn and raw is None else phases[0]
        record = draws.public_record(db.session, phase)
        return current_app.response_class(json.dumps(record, ensure_ascii=False),
                                          mimetype="application/json")

    @expose("/openapi.json", methods=["GET"])
    def openapi_spec(self):
        """The OpenAPI document of the public API.
        ---
        get:
          summary: This document
          responses:
            200:
              description: OpenAPI 3 document
              content:
                application/json:
                  schema: {type: object}
        """
        spec = APISpec(title="Taichung Arts Workshops open data", version="v1",
                       openapi_version="3.0.2",
                       info={"description": "Courses, live counts, masked admission lists and "
                                            "verifiable lottery records."},
                       servers=[{"url": current_app.config["PUBLIC_BASE_URL"]}])
        self.add_api_spec(spec)
        return current_app.response_class(json.dumps(spec.to_dict(), ensure_ascii=False),
                                          mimetype="application/json")
