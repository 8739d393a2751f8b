"""Message texts per event and channel, in the citizen's language (zh_Hant_TW or en)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale, gettext as _

from . import clock

SMS_MAX = 70  # one Big5/UCS-2 SMS segment holds 70 characters


@dataclass
class Message:
    subject: str
    body: str
    html: str | None = None


def _deadline(reg) -> str:
    if reg is None or reg.deadline_at is None:
        return ""
    local = clock.to_taipei(reg.deadline_at)
    return f"{local:%Y-%m-%d %H:%M}"


def _texts(event: str, reg, ctx: dict) -> tuple[str, str]:
    """(subject, body) for an event, already translated in the active locale."""
    course = reg.course if reg is not None else None
    title = course.title if course is not None else ""
    code = course.code if course is not None else ""
    entry = reg.entry_no if reg is not None else ""
    link = ctx.get("link") or (f"{current_app.config['PUBLIC_BASE_URL']}/my/registrations/{reg.id}"
                               if reg is not None else current_app.config["PUBLIC_BASE_URL"])
    p = {"title": title, "code": code, "entry": entry, "deadline": _deadline(reg), "link": link,
         **{k: v for k, v in ctx.items() if isinstance(v, (str, int))}}
    table = {
        "registration_received": (
            _("Application received: %(title)s", **p),
            _("We received your application %(entry)s for %(title)s (%(code)s). The lottery result will be published on the course page. %(link)s", **p)),
        "admitted": (
            _("Admitted: %(title)s", **p),
            _("You are admitted to %(title)s (%(code)s), entry %(entry)s. Please pay by %(deadline)s (Taipei time); download the payment slip: %(link)s", **p)),
        "waitlisted": (
            _("Waitlisted: %(title)s", **p),
            _("Your application %(entry)s for %(title)s is on the waitlist. We will tell you if a seat frees up. %(link)s", **p)),
        "promoted": (
            _("A seat is yours: %(title)s", **p),
            _("A seat in %(title)s freed up and is now yours (entry %(entry)s). Please pay by %(deadline)s (Taipei time): %(link)s", **p)),
        "withdrawn": (
            _("Withdrawn: %(title)s", **p),
            _("Your registration %(entry)s for %(title)s was withdrawn.", **p)),
        "forfeited": (
            _("Seat forfeited: %(title)s", **p),
            _("Your registration %(entry)s for %(title)s was not paid by the deadline and the seat was given up.", **p)),
        "payment_received": (
            _("Payment received: %(title)s", **p),
            _("We received your payment for %(title)s (entry %(entry)s). See you in class! %(link)s", **p)),
        "payment_due": (
            _("Payment due tomorrow: %(title)s", **p),
            _("Reminder: please pay for %(title)s (entry %(entry)s) by %(deadline)s (Taipei time): %(link)s", **p)),
        "class_starts": (
            _("Class starts tomorrow: %(title)s", **p),
            _("Your class %(title)s (%(code)s) starts tomorrow. %(link)s", **p)),
        "refund_requested": (
            _("Refund request received: %(title)s", **p),
            _("We received your refund request for %(title)s (entry %(entry)s). The venue will review it.", **p)),
        "refund_approved": (
            _("Refund approved: %(title)s", **p),
            _("Your refund for %(title)s (entry %(entry)s) was approved and will be remitted to your bank account.", **p)),
        "refund_rejected": (
            _("Refund not approved: %(title)s", **p),
            _("Your refund request for %(title)s (entry %(entry)s) was not approved. Please contact the venue for details.", **p)),
        "refund_remitted": (
            _("Refund remitted: %(title)s", **p),
            _("The refund for %(title)s (entry %(entry)s) has been remitted to your bank account.", **p)),
        "course_cancelled": (
            _("Course cancelled: %(title)s", **p),
            _("The venue cancelled %(title)s (%(code)s). What you paid will be refunded in full.", **p)),
        "lottery_result": (
            _("Lottery result: %(title)s", **p),
            _("The lottery for %(title)s has been drawn. See the result: %(link)s", **p)),
        "survey": (
            _("How did we do?", **p),
            _("Thank you for taking part. Tell us what you think of the registration system: %(link)s", **p)),
        "verify_email": (
            _("Confirm your e-mail address", **p),
            _("Open this link to confirm your e-mail address: %(link)s", **p)),
        "verify_sms": (
            _("Your verification code", **p),
            _("Your verification code is %(code)s. It expires in 10 minutes.", **p)),
        "password_reset": (
            _("Reset your password", **p),
            _("Open this link within an hour to choose a new password: %(link)s", **p)),
        "broadcast": (
            str(ctx.get("subject", "")),
            str(ctx.get("text", ""))),
    }
    if event not in table:
        raise KeyError(f"no message for event {event!r}")
    return table[event]


def shorten_sms(text: str, limit: int = SMS_MAX * 2) -> str:
    """SMS bodies are kept within two segments; longer ones are cut deliberately with …
    but the link (the last word) is always kept."""
    if len(text) <= limit:
        return text
    words = text.rsplit(" ", 1)
    if len(words) == 2 and words[1].startswith("http") and len(words[1]) < limit - 10:
        head = words[0][: limit - len(words[1]) - 2]
        return head + "… " + words[1]
    return text[: limit - 1] + "…"


def render(event: str, channel: str, *, citizen, registration=None, **ctx) -> Message:
    with force_locale(citizen.locale or "zh_Hant_TW"):
        subject, body = _texts(event, registration, ctx)
    if channel == "sms":
        return Message(subject=subject, body=shorten_sms(body))
    from markupsafe import escape

    html = f"<p>{escape(body)}</p>"
    return Message(subject=subject, body=body, html=html)
