"""A real SMTP server (aiosmtpd) on a free local port that keeps what it accepts.

``hold_next(n)`` makes it stall the next ``n`` messages *before* accepting them (the DATA
command hangs until ``release()``, then answers 451 and keeps nothing): a client killed
meanwhile has not delivered its message.  Recipients containing ``bounce`` are refused
with 550 (a permanent error)."""
from __future__ import annotations

import asyncio
import email
import threading
from email import policy

from aiosmtpd.controller import Controller

from . import free_port


class SmtpSink:
    def __init__(self):
        self.messages: list = []  # email.message.EmailMessage, as accepted
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.holding = 0
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    # -- aiosmtpd handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "bounce" in address:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            hold = self.holding > 0
            if hold:
                self.holding -= 1
        if hold:
            self.arrived.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    # -- control
    def hold_next(self, n: int = 1) -> None:
        self.holding, self.arrived, self.released = n, threading.Event(), threading.Event()

    def release(self) -> None:
        self.released.set()

    def to(self, address: str) -> list:
        with self.lock:
            return [m for m, (_, rcpts) in zip(self.messages, self.envelopes) if address in rcpts]

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.release()
        self.controller.stop()
