"""Errors a person can cause.  Each carries a translatable message; views turn them
into a 4xx answer in the user's language."""
from __future__ import annotations

from flask_babel import lazy_gettext


class DomainError(Exception):
    """A refused request, with a user-facing message (lazy, translated at render)."""

    status = 400
    code = "refused"

    def __init__(self, message=None, *, code: str | None = None, **params):
        self.message = message if message is not None else lazy_gettext("The request was refused.")
        if code:
            self.code = code
        self.params = params
        super().__init__(str(code or self.code))

    def __str__(self) -> str:  # the translated text
        try:
            return str(self.message) % self.params if self.params else str(self.message)
        except Exception:  # pragma: no cover - a bad format string must not hide the error
            return str(self.message)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"
