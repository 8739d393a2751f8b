"""The back office's security manager: FAB's, plus the security trail and lockout."""
from __future__ import annotations

import datetime as dt

from flask import current_app, has_request_context, request
from flask_appbuilder.security.sqla.manager import SecurityManager
from sqlalchemy import func, select

from ...extensions import db
from ...services import audit
from ...services.audit import Actor


def request_ip() -> str:
    return (request.remote_addr or "") if has_request_context() else ""


def staff_actor(user=None, username: str | None = None) -> Actor:
    """The audit actor for a staff member (or an unknown user name)."""
    from .scoping import ALL_VENUES, staff_venue_id

    ua = request.headers.get("User-Agent", "")[:256] if has_request_context() else ""
    if user is None:
        return Actor(type="anonymous", name=username or "", ip=request_ip(), user_agent=ua)
    venue = staff_venue_id(user)
    return Actor(type="staff", name=user.username, role=",".join(sorted(r.name for r in user.roles)),
                 venue_id=None if venue is ALL_VENUES else venue, ip=request_ip(), user_agent=ua)


class WorkshopSecurityManager(SecurityManager):
    def _audit(self, event: str, user=None, username=None, **detail):
        audit.record(db.session, event, staff_actor(user, username),
                     target=f"user:{user.id}" if user is not None else "", detail=detail)
        db.session.commit()

    def _locked(self, user) -> bool:
        limit = current_app.config["LOGIN_MAX_FAILURES"]
        if (user.fail_login_count or 0) < limit:
            return False
        window = dt.timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
        from ...models.audit import AuditEntry

        last_fail = db.session.execute(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.event == "staff_login_failed",
                AuditEntry.target == f"user:{user.id}")
        ).scalar()
        return last_fail is not None and dt.datetime.utcnow() - last_fail < window

    def auth_user_db(self, username, password):
        user = self.find_user(username=username) if username else None
        if user is not None and self._locked(user):
            self._audit("staff_login_locked", user)
            return None
        result = super().auth_user_db(username, password)
        if result is None and user is None:
            self._audit("staff_login_failed", None, username=(username or "")[:128],
                        reason="unknown user")
        return result

    def register_views(self) -> None:
        super().register_views()
        # FAB limits its log-in form (AUTH_RATE_LIMIT) but not its JSON log-in API, which
        # checks the same staff passwords: limit it the same way, or it goes around the limit.
        if self.is_auth_limited:
            for view in self.appbuilder.baseviews:
                if isinstance(view, self.security_api):
                    self.limiter.limit(self.auth_rate_limit, methods=["POST"])(view.blueprint)

    def on_user_login(self, user) -> None:
        self._audit("staff_login", user)

    def on_user_login_failed(self, user) -> None:
        self._audit("staff_login_failed", user, reason="wrong password")
        if (user.fail_login_count or 0) >= current_app.config["LOGIN_MAX_FAILURES"]:
            self._audit("staff_lockout", user)

    def on_user_logout(self, user) -> None:
        self._audit("staff_logout", user)

    def reset_password(self, userid, password):
        super().reset_password(userid, password)
        from flask import g

        actor_user = getattr(g, "user", None)
        target = self.get_user_by_id(userid)
        audit.record(db.session, "password_reset" if getattr(actor_user, "id", None) != userid
                     else "password_change",
                     staff_actor(actor_user if getattr(actor_user, "is_authenticated", False) else None),
                     target=f"user:{userid}", detail={"username": target.username})
        db.session.commit()
