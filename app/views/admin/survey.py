"""Satisfaction survey results in the back office (滿意度問卷統計): averages and 1–5
distributions per venue and term, the comments, and a CSV of the answers (recorded as an
export).  Venue staff see their own venue; city-wide roles see every venue."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...models import Term, Venue
from ...services import clock, dashboards, survey
from .office import bar_chart, download, int_arg, owned, scope_venue_id, scoped
from .roles import grant


class SurveyStatsView(BaseView):
    route_base = "/admin/survey"
    default_view = "index"
    method_permission_name = {"index": "read", "export": "export"}

    def _selection(self):
        scope = scope_venue_id()
        venue_id = int_arg("venue")
        if scope is not None:
            venue_id = scope
        elif venue_id is not None:
            owned(Venue, venue_id)
        term_id = int_arg("term")
        if term_id is not None:
            term = owned(Term, term_id)
            if venue_id is not None and term.venue_id != venue_id:
                abort(404)
        return scope, venue_id, term_id

    @expose("/")
    @has_access
    def index(self):
        scope, venue_id, term_id = self._selection()
        lines = survey.stats(db.session, venue_id, term_id)
        total = lines[0]
        charts = {
            key: bar_chart([dashboards.Bar(f"{s}★", getattr(total, attr)[s]) for s in range(1, 6)],
                           title, chart_id=f"s-{key}", horizontal=True)
            for key, attr, title in (("overall", "overall_dist", _("Overall satisfaction")),
                                     ("ease", "ease_dist", _("Ease of use")))}
        venues = db.session.execute(scoped(select(Venue), Venue.id).order_by(Venue.id)).scalars().all()
        terms = db.session.execute(scoped(select(Term), Term.venue_id)
                                   .order_by(Term.starts_on.desc())).scalars().all()
        return self.render_template(
            "admin/office/survey.html", lines=lines, total=total, charts=charts,
            comments=survey.comments(db.session, venue_id, term_id), venues=venues, terms=terms,
            venue_id=venue_id, term_id=term_id, city_wide=scope is None,
            when=lambda d: clock.to_taipei(d).strftime("%Y-%m-%d %H:%M"))

    @expose("/export.csv")
    @has_access
    def export(self):
        _scope, venue_id, term_id = self._selection()
        body, rows = survey.responses_csv(db.session, venue_id, term_id)
        return download(body.encode("utf-8"), f"survey-{clock.taipei_today().isoformat()}.csv",
                        "text/csv; charset=utf-8", "survey_responses", rows,
                        venue_id=venue_id, term_id=term_id)


def register(appbuilder) -> None:
    appbuilder.add_view(SurveyStatsView, "Satisfaction survey", label=_l("Satisfaction survey"),
                        category="Office", category_label=_l("Office"), icon="fa-star")
    for role in ("Venue Admin", "Supervisor"):
        grant(role, "SurveyStatsView", ("can_read", "can_export"))
        grant(role, "Satisfaction survey", ("menu_access",))
        grant(role, "Office", ("menu_access",))

