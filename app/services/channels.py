"""Delivery channels (通知管道): how one outbox row reaches a person.

A *backend* is a class registered by name with :func:`register_channel`; its ``send()``
delivers one :class:`~app.models.Notification` and returns the provider's message id, or
raises :class:`TransientError` (try again later) or :class:`PermanentError` (give up).
Adding a channel (e.g. the city app's push messages) means one new class::

    @register_channel("cityapp")
    class CityAppChannel(Channel):
        def send(self, notification) -> str: ...

Logical channel → backend
-------------------------
An outbox row has a *logical* channel (``email``, ``sms``: what the citizen chose).
``NOTIFY_CHANNELS`` says which backend delivers each logical channel, as a comma list:

* ``email``, ``sms`` – the logical channel is delivered by the backend of the same name;
* ``sms=console`` – the logical channel ``sms`` is delivered by the ``console`` backend;
* ``console`` (alone, or ``*=console``) – every logical channel not named otherwise is
  written to the console file.

So ``console`` (the default) is the demo: everything goes to ``NOTIFY_CONSOLE_FILE``;
``email,sms`` is production; ``email,console`` sends e-mail over SMTP and writes SMS to
the file.  A logical channel with no backend fails permanently ("no backend"), visibly
in the back office.  ``CHANNEL_BACKENDS`` (a dict in the app config) overrides the whole
mapping when set.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import smtplib
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable

from flask import current_app
from flask_mail import BadHeaderError, Connection as MailConnection, Message as MailMessage

#: name -> backend class
REGISTRY: dict[str, type["Channel"]] = {}


class DeliveryError(Exception):
    """A send that did not succeed; ``str(error)`` is what the back office shows."""


class TransientError(DeliveryError):
    """May succeed later (timeouts, HTTP 5xx, 4xx SMTP replies): retried with backoff."""


class PermanentError(DeliveryError):
    """Will not succeed by retrying (bad address, rejected content): marked failed now."""


def setting(name: str, default, cast: Callable = int):
    """A notification setting: the app config if it has it, else the environment (for
    settings not yet in ``config.py``), else ``default``."""
    config = current_app.config
    if name in config and config[name] not in (None, ""):
        return cast(config[name])
    raw = os.environ.get(name)
    return cast(raw) if raw not in (None, "") else default


def register_channel(name: str):
    """Class decorator: make a backend available under ``name``."""

    def decorate(cls):
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return decorate


class Channel:
    """A delivery backend.  Instances are created per send, inside an app context."""

    name = ""

    def send(self, notification) -> str:  # pragma: no cover - interface
        """Deliver ``notification``; return the provider's id for it."""
        raise NotImplementedError


def backend_map(config=None) -> dict[str, str]:
    """Logical channel -> backend name, from ``CHANNEL_BACKENDS`` or ``NOTIFY_CHANNELS``."""
    config = config if config is not None else current_app.config
    explicit = config.get("CHANNEL_BACKENDS")
    if explicit:
        return dict(explicit)
    mapping: dict[str, str] = {}
    for item in str(config.get("NOTIFY_CHANNELS") or "").split(","):
        item = item.strip()
        if not item:
            continue
        logical, _, backend = item.partition("=")
        logical, backend = logical.strip(), (backend.strip() or logical.strip())
        if logical == "console" and backend == "console":
            logical = "*"
        mapping[logical] = backend
    return mapping


def backend_for(logical: str) -> Channel:
    """The backend instance that delivers ``logical`` (raises PermanentError if none)."""
    mapping = backend_map()
    name = mapping.get(logical) or mapping.get("*")
    if not name or name not in REGISTRY:
        raise PermanentError(f"no backend for channel {logical!r} (NOTIFY_CHANNELS)")
    return REGISTRY[name]()


def stable_token(notification) -> str:
    """A short id for this message, the same on every attempt (16 hex digits): from the
    idempotency key and the row's creation time, so rows of another database (staging
    and production on one SMS account) or a re-created database never share one."""
    created = notification.created_at.isoformat() if notification.created_at else ""
    seed = f"{notification.idempotency_key}|{created}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- e-mail (SMTP)

class _TimedConnection(MailConnection):
    """Flask-Mail's connection with a socket timeout (Flask-Mail 0.10 sets none, so a
    stalled SMTP server would hold the worker forever)."""

    def __init__(self, mail, timeout: float):
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self):
        factory = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = factory(self.mail.server, self.mail.port, timeout=self.timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


@register_channel("email")
class EmailChannel(Channel):
    """E-mail over SMTP with Flask-Mail: a plain-text and an HTML part.

    The Message-ID is derived from the idempotency key, so a message sent twice (the
    crash window, see app.services.delivery) carries the same Message-ID both times."""

    def send(self, notification) -> str:
        sender = current_app.config.get("MAIL_DEFAULT_SENDER") or "noreply@localhost"
        domain = str(sender).rpartition("@")[2].strip("> ") or "localhost"
        msg = MailMessage(subject=notification.subject, recipients=[notification.recipient],
                      body=notification.body, html=notification.html_body or None, sender=sender)
        msg.msgId = f"<n{notification.id}.{stable_token(notification)}@{domain}>"
        state = current_app.extensions["mail"]
        try:
            with _TimedConnection(state, setting("NOTIFY_SEND_TIMEOUT", 10, float)) as conn:
                conn.send(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            err = PermanentError if codes and all(c >= 500 for c in codes) else TransientError
            raise err(f"SMTP recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise TransientError(f"SMTP login failed: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPResponseException as exc:
            err = PermanentError if exc.smtp_code >= 500 else TransientError
            raise err(f"SMTP {exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout
            raise TransientError(f"SMTP unavailable: {exc!r}") from exc
        except (BadHeaderError, AssertionError) as exc:
            raise PermanentError(f"bad message: {exc!r}") from exc
        return msg.msgId


# ---------------------------------------------------------------- SMS (Mitake HTTP API)

#: Mitake status codes meaning the gateway accepted the message.
MITAKE_ACCEPTED = {"0", "1", "2", "4"}
#: Codes about this message itself (bad number, empty or rejected content, expired):
#: retrying cannot help.  Every other code (account, system, quota) is retried.
MITAKE_PERMANENT = {"5", "6", "7", "8", "9", "t", "u", "v"}


def parse_mitake_reply(text: str) -> dict[str, str]:
    """Mitake answers ``key=value`` lines (a ``[1]`` section header first)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


@register_channel("sms")
class MitakeSmsChannel(Channel):
    """SMS through an HTTP gateway speaking the Mitake (三竹) API: a form POST of
    ``username``, ``password``, ``dstaddr``, ``smbody`` (plus ``clientid``) to
    ``SMS_GATEWAY_URL``; the reply's ``statuscode`` and ``msgid`` lines.

    ``clientid`` is stable per message: Mitake does not send a message whose clientid
    it saw in the last 12 hours again (it answers ``Duplicate=Y``), which closes the
    duplicate window after a crash for SMS."""

    def send(self, notification) -> str:
        config = current_app.config
        url = config.get("SMS_GATEWAY_URL")
        if not url:
            raise TransientError("SMS_GATEWAY_URL is not set")
        form = urllib.parse.urlencode({
            "username": config.get("SMS_USERNAME", ""), "password": config.get("SMS_PASSWORD", ""),
            "dstaddr": notification.recipient, "smbody": notification.body,
            "clientid": f"n{notification.id}-{stable_token(notification)}"[:36],
            "CharsetURL": "UTF8",
        }).encode()
        request = urllib.request.Request(url, data=form, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=setting("NOTIFY_SEND_TIMEOUT", 10, float)) as resp:
                text = resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            transient = exc.code >= 500 or exc.code in (408, 429)
            raise (TransientError if transient else PermanentError)(f"SMS gateway HTTP {exc.code}") from exc
        except (urllib.error.URLError, socket.timeout, TimeoutError, OSError) as exc:
            raise TransientError(f"SMS gateway unavailable: {exc!r}") from exc
        reply = parse_mitake_reply(text)
        status = reply.get("statuscode", "")
        if status in MITAKE_ACCEPTED and reply.get("msgid"):
            return reply["msgid"]
        err = PermanentError if status in MITAKE_PERMANENT else TransientError
        raise err(f"SMS gateway statuscode={status or '?'} {reply.get('error', '')}".strip())


# ---------------------------------------------------------------- console (demo)

@register_channel("console")
class ConsoleChannel(Channel):
    """The demo backend: appends the message to ``NOTIFY_CONSOLE_FILE`` (one block per
    message, under an exclusive file lock so concurrent workers do not interleave)."""

    def send(self, notification) -> str:
        path = current_app.config.get("NOTIFY_CONSOLE_FILE") or "outbox.log"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        ident = f"console-{notification.id}-{stable_token(notification)[:8]}"
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        block = (f"=== {stamp} {notification.channel} to {notification.recipient} [{ident}]\n"
                 f"Subject: {notification.subject}\n\n{notification.body}\n\n")
        try:
            with open(path, "a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.write(block)
        except OSError as exc:
            raise TransientError(f"console file: {exc!r}") from exc
        return ident
