"""Back-office accounts: create (idempotently) and attach to a venue."""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import StaffProfile, Venue
from .errors import DomainError


def ensure_staff(sm, username: str, role_name: str, venue_code: str | None, password: str,
                 email: str, first_name: str | None = None, last_name: str = ""):
    """Create the account if missing, give it exactly ``role_name`` and its venue."""
    role = sm.find_role(role_name)
    if role is None:
        raise DomainError(f"unknown role {role_name}")
    venue = None
    if venue_code:
        venue = db.session.execute(select(Venue).where(Venue.code == venue_code)).scalar_one_or_none()
        if venue is None:
            raise DomainError(f"unknown venue {venue_code}")
    user = sm.find_user(username=username)
    if user is None:
        user = sm.add_user(username, first_name or username, last_name or "-", email, [role],
                           password=password)
        if not user:
            raise DomainError(f"could not create {username}")
    profile = db.session.execute(
        select(StaffProfile).where(StaffProfile.user_id == user.id)).scalar_one_or_none()
    if profile is None:
        profile = StaffProfile(user_id=user.id)
        db.session.add(profile)
    profile.venue_id = venue.id if venue else None
    db.session.commit()
    return user
