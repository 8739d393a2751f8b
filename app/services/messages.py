"""Message texts per event and channel, in the citizen's language (zh_Hant_TW or en).

:func:`render` turns an event into a :class:`Message`, translated with Flask-Babel in the
citizen's locale (``force_locale``); the texts are the ``msgid``s in :data:`TEXTS`
(``%(name)s`` parameters: title, code, entry, deadline, link and whatever the caller
passes).  Rendering happens when the event is written (notify), so the outbox row holds
exactly what is sent.

* **E-mail**: the subject; a plain-text part (the text, then a short footer); an HTML
  part from ``templates/email/notification.html``, every value escaped and the link an
  ``<a>`` to the absolute URL (``PUBLIC_BASE_URL`` + path, or the caller's ``link=``).
* **SMS**: no subject; a sender tag then the event's SMS text (:data:`SMS_TEXTS`, shorter
  than the e-mail's where needed), kept within ``NOTIFY_SMS_MAX_SEGMENTS`` (default 2)
  segments.  A segment holds 70 characters when the text has any Chinese (UCS-2; 67
  each once concatenated) or 160 for plain GSM text (153 each concatenated).  A longer
  text is *shortened*, never split into separate messages: first the course title is
  cut (down to 8 characters), then the text itself, with an ellipsis; the link is
  always kept whole at the end, so the page has the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import force_locale, gettext as _
from markupsafe import Markup, escape

from . import clock
from .channels import setting

SMS_MAX = 70  # one UCS-2 (Chinese) SMS segment holds 70 characters
_LINK = "@@LINK@@"  # stands for the link while the HTML part is escaped


def N_(msgid: str) -> str:
    """Marks a msgid for extraction (pybabel's default keywords include N_)."""
    return msgid


@dataclass
class Message:
    subject: str
    body: str
    html: str | None = None


#: event -> (subject msgid, text msgid).  Every event renders in zh_Hant_TW and en.
TEXTS: dict[str, tuple[str, str]] = {
    "registration_received": (
        N_("Application received: %(title)s"),
        N_("We received your application %(entry)s for %(title)s (%(code)s). The lottery result will be published on the course page. %(link)s")),
    "lottery_result": (
        N_("Lottery result: %(title)s"),
        N_("The lottery for %(title)s has been drawn. See the result: %(link)s")),
    "admitted": (
        N_("Admitted: %(title)s"),
        N_("You are admitted to %(title)s (%(code)s), entry %(entry)s. Please pay by %(deadline)s (Taipei time); download the payment slip: %(link)s")),
    "waitlisted": (
        N_("Waitlisted: %(title)s"),
        N_("Your application %(entry)s for %(title)s is on the waitlist. We will tell you if a seat frees up. %(link)s")),
    "promoted": (
        N_("A seat is yours: %(title)s"),
        N_("A seat in %(title)s freed up and is now yours (entry %(entry)s). Please pay by %(deadline)s (Taipei time): %(link)s")),
    "withdrawn": (
        N_("Withdrawn: %(title)s"),
        N_("Your registration %(entry)s for %(title)s was withdrawn.")),
    "forfeited": (
        N_("Seat forfeited: %(title)s"),
        N_("Your registration %(entry)s for %(title)s was not paid by the deadline and the seat was given up.")),
    "payment_received": (
        N_("Payment received: %(title)s"),
        N_("We received your payment for %(title)s (entry %(entry)s). See you in class! %(link)s")),
    "payment_due": (
        N_("Payment due tomorrow: %(title)s"),
        N_("Reminder: please pay for %(title)s (entry %(entry)s) by %(deadline)s (Taipei time): %(link)s")),
    "class_starts": (
        N_("Class starts tomorrow: %(title)s"),
        N_("Your class %(title)s (%(code)s) starts tomorrow. %(link)s")),
    "refund_requested": (
        N_("Refund request received: %(title)s"),
        N_("We received your refund request for %(title)s (entry %(entry)s). The venue will review it.")),
    "refund_approved": (
        N_("Refund approved: %(title)s"),
        N_("Your refund for %(title)s (entry %(entry)s) was approved and will be remitted to your bank account.")),
    "refund_rejected": (
        N_("Refund not approved: %(title)s"),
        N_("Your refund request for %(title)s (entry %(entry)s) was not approved. Please contact the venue for details.")),
    "refund_remitted": (
        N_("Refund remitted: %(title)s"),
        N_("The refund for %(title)s (entry %(entry)s) has been remitted to your bank account.")),
    "course_cancelled": (
        N_("Course cancelled: %(title)s"),
        N_("The venue cancelled %(title)s (%(code)s). What you paid will be refunded in full.")),
    "class_closed": (
        N_("No class on %(day)s: %(title)s"),
        N_("%(title)s (%(code)s) does not meet on %(day)s: %(reason)s. The last class is now on %(new_last)s. %(link)s")),
    "transfer_approved": (
        N_("Transfer approved: %(title)s"),
        N_("Your transfer to %(title)s (%(code)s) was approved. Your new entry number is %(entry)s. %(link)s")),
    "survey": (
        N_("How did we do?"),
        N_("Thank you for taking part. Tell us what you think of the registration system: %(link)s")),
    "verify_email": (
        N_("Confirm your e-mail address"),
        N_("Open this link to confirm your e-mail address: %(link)s")),
    "verify_sms": (
        N_("Your verification code"),
        N_("Your verification code is %(code)s. It expires in 10 minutes.")),
    "password_reset": (
        N_("Reset your password"),
        N_("Open this link within an hour to choose a new password: %(link)s")),
}
#: Shorter SMS texts where the e-mail text would not fit two segments; the others
#: send the e-mail text.  The facts come first (what, entry, deadline), then the link.
SMS_TEXTS: dict[str, str] = {
    "registration_received": N_("Application %(entry)s for %(title)s received. Lottery result on the course page: %(link)s"),
    "admitted": N_("Admitted to %(title)s, entry %(entry)s. Pay by %(deadline)s (Taipei time): %(link)s"),
    "waitlisted": N_("%(title)s: application %(entry)s is on the waitlist. %(link)s"),
    "promoted": N_("A seat in %(title)s is yours (entry %(entry)s). Pay by %(deadline)s (Taipei time): %(link)s"),
    "forfeited": N_("%(title)s, entry %(entry)s: not paid by the deadline, the seat was given up."),
    "payment_received": N_("Payment for %(title)s (entry %(entry)s) received. See you in class!"),
    "payment_due": N_("Reminder: pay for %(title)s (entry %(entry)s) by %(deadline)s (Taipei time): %(link)s"),
    "refund_requested": N_("Refund request for %(title)s (entry %(entry)s) received; the venue will review it."),
    "refund_approved": N_("Refund for %(title)s (entry %(entry)s) approved; it will be remitted to your bank account."),
    "refund_rejected": N_("Refund request for %(title)s (entry %(entry)s) not approved. Please contact the venue."),
    "refund_remitted": N_("Refund for %(title)s (entry %(entry)s) remitted to your bank account."),
    "course_cancelled": N_("%(title)s (%(code)s) was cancelled by the venue; what you paid will be refunded in full."),
    "class_closed": N_("No class of %(title)s on %(day)s: %(reason)s. The last class is now on %(new_last)s."),
    "transfer_approved": N_("Transfer to %(title)s approved; your new entry number is %(entry)s. %(link)s"),
}
#: Every event with translated texts (``broadcast`` carries the caller's own text).
EVENTS = tuple(TEXTS)


def _deadline(reg) -> str:
    if reg is None or reg.deadline_at is None:
        return ""
    return f"{clock.to_taipei(reg.deadline_at):%Y-%m-%d %H:%M}"


def _params(reg, ctx: dict) -> dict:
    course = reg.course if reg is not None else None
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    link = ctx.get("link") or (f"{base}/my/registrations/{reg.id}" if reg is not None else base)
    if link.startswith("/"):
        link = base + link
    return {"title": course.title if course is not None else "",
            "code": course.code if course is not None else "",
            "entry": reg.entry_no if reg is not None else "", "deadline": _deadline(reg),
            **{k: v for k, v in ctx.items() if isinstance(v, (str, int)) and k != "link"},
            "link": link}


def _texts(event: str, params: dict, sms: bool = False) -> tuple[str, str]:
    """(subject, text) in the active locale; the text has :data:`_LINK` for the link."""
    if event == "broadcast":
        return str(params.get("subject", "")), str(params.get("text", ""))
    if event not in TEXTS:
        raise KeyError(f"no message for event {event!r}")
    subject, text = TEXTS[event]
    if sms:
        text = SMS_TEXTS.get(event, text)
    return _(subject, **params), _(text, **{**params, "link": _LINK})


# ---------------------------------------------------------------- SMS length

GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def sms_segments(text: str) -> int:
    """How many segments the gateway bills for ``text``."""
    single, part = (160, 153) if set(text) <= GSM7 else (SMS_MAX, 67)
    return 1 if len(text) <= single else -(-len(text) // part)


def fit_sms(text: str, link: str = "", max_segments: int = 2) -> str:
    """Shorten ``text`` to ``max_segments`` segments, keeping ``link`` whole at the end."""
    if sms_segments(text) <= max_segments:
        return text
    gsm = set(text) <= GSM7
    limit = (153 if gsm else 67) * max_segments if max_segments > 1 else (160 if gsm else SMS_MAX)
    ellipsis = "..." if gsm else "…"
    if link and link in text and len(link) + 12 < limit:
        head = " ".join(text.replace(link, " ").split())
        return head[: limit - len(link) - len(ellipsis) - 1].rstrip() + ellipsis + " " + link
    return text[: limit - len(ellipsis)].rstrip() + ellipsis


# ---------------------------------------------------------------- render

def render(event: str, channel: str, *, citizen, registration=None, **ctx) -> Message:
    """The message for ``event`` on ``channel`` (``sms`` or any e-mail-like channel)."""
    locale = citizen.locale or "zh_Hant_TW"
    params = _params(registration, ctx)
    link = params["link"]
    with force_locale(locale):
        if channel == "sms":
            return _sms(event, params)
        subject, text = _texts(event, params)
        footer = _("This message was sent automatically; please do not reply to it.")
        brand = _("Taichung City Arts Workshops")
        plain = f"{text.replace(_LINK, link)}\n\n--\n{brand}\n{footer}\n"
        html = render_template(
            "email/notification.html", lang=locale.replace("_", "-"), subject=subject,
            body_html=_linked(text, link), brand=brand, footer=footer)
    return Message(subject=subject, body=plain, html=html)


def _sms(event: str, params: dict) -> Message:
    """The SMS: sender tag + SMS text; too long, the course title is shortened first,
    then :func:`fit_sms` cuts the text (never the link)."""
    limit = setting("NOTIFY_SMS_MAX_SEGMENTS", 2)

    def build(p: dict) -> tuple[str, str]:
        subject, text = _texts(event, p, sms=True)
        return subject, _("(Taichung Arts) %(text)s", text=text.replace(_LINK, p["link"]))

    subject, body = build(params)
    title = str(params.get("title") or "")
    ellipsis = "..." if set(title) <= GSM7 else "…"
    keep = len(title)
    while sms_segments(body) > limit and keep > 8:
        keep -= 1
        body = build({**params, "title": title[:keep].rstrip() + ellipsis})[1]
    return Message(subject=subject, body=fit_sms(body, params["link"], limit))


def _linked(text: str, link: str) -> Markup:
    """The text escaped for HTML, line breaks kept, the link an anchor (http/https only)."""
    safe = str(escape(text)).replace("\n", "<br>\n")
    if not link.startswith(("https://", "http://")):
        return Markup(safe.replace(_LINK, str(escape(link))))
    anchor = Markup('<a href="{0}">{0}</a>').format(link)
    return Markup(safe.replace(_LINK, str(anchor)))
