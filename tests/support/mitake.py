"""A local HTTP server speaking the Mitake (三竹) SMS API shape.

POST form fields ``username``, ``password``, ``dstaddr``, ``smbody`` (and optional
``clientid``); the reply is plain text ``key=value`` lines::

    [1]
    msgid=0000000001
    statuscode=1
    AccountPoint=98

Like Mitake, a ``clientid`` seen before is not sent again: the reply repeats the first
``msgid`` with ``Duplicate=Y``.  ``delivered`` holds the messages that reached "phones".

Per-number behaviour (``behave[dstaddr]``): ``"http500"``; ``"timeout"`` (no answer for
``slow_seconds``, then 503, nothing sent); ``"slow"`` (accepts and sends, but answers
only after ``slow_seconds``: the client has timed out); ``"status:X"`` (reply
``statuscode=X`` with no msgid).
``hold_next(n)`` stalls the next ``n`` accepted messages *after* accepting them (the
reply waits for ``release()``): a client killed meanwhile never learns it succeeded.
"""
from __future__ import annotations

import itertools
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import free_port


class MitakeGateway:
    def __init__(self, username: str = "tcarts", password: str = "s3cret"):
        self.username, self.password = username, password
        self.behave: dict[str, str] = {}
        self.slow_seconds = 5.0
        self.requests: list[dict] = []  # every request, parsed
        self.delivered: list[dict] = []  # messages accepted (sent to phones)
        self._by_client: dict[str, str] = {}
        self._ids = itertools.count(1_000_001)
        self.lock = threading.Lock()
        self.holding = 0
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.port}/api/mtk/SmSend"

    def _handler(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in urllib.parse.parse_qs(
                    self.rfile.read(length).decode("utf-8"), keep_blank_values=True).items()}
                status, text = gateway.answer(form)
                try:
                    body = text.encode("utf-8")
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client is gone (killed or timed out)
                    pass

        return Handler

    def answer(self, form: dict) -> tuple[int, str]:
        with self.lock:
            self.requests.append(form)
        if form.get("username") != self.username or form.get("password") != self.password:
            return 200, "[1]\r\nstatuscode=e\r\nError=帳號、密碼錯誤\r\n"
        behaviour = self.behave.get(form.get("dstaddr", ""), "ok")
        if behaviour == "http500":
            return 500, "Internal Server Error"
        if behaviour == "timeout":
            time.sleep(self.slow_seconds)
            return 503, "Service Unavailable"
        if behaviour.startswith("status:"):
            return 200, f"[1]\r\nstatuscode={behaviour[7:]}\r\n"
        client = form.get("clientid", "")
        with self.lock:
            if client and client in self._by_client:
                return 200, f"[1]\r\nmsgid={self._by_client[client]}\r\nstatuscode=1\r\nDuplicate=Y\r\n"
            msgid = f"{next(self._ids):010d}"
            if client:
                self._by_client[client] = msgid
            self.delivered.append({**form, "msgid": msgid})
            hold = self.holding > 0
            if hold:
                self.holding -= 1
        if hold:
            self.arrived.set()
            self.released.wait(60)
        if behaviour == "slow":
            time.sleep(self.slow_seconds)
        return 200, f"[1]\r\nmsgid={msgid}\r\nstatuscode=1\r\nAccountPoint=98\r\n"

    def forget_client_ids(self) -> None:
        with self.lock:
            self._by_client.clear()

    def hold_next(self, n: int = 1) -> None:
        self.holding, self.arrived, self.released = n, threading.Event(), threading.Event()

    def release(self) -> None:
        self.released.set()

    def to(self, phone: str) -> list[dict]:
        with self.lock:
            return [m for m in self.delivered if m.get("dstaddr") == phone]

    def requests_to(self, phone: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r.get("dstaddr") == phone]

    def start(self) -> "MitakeGateway":
        threading.Thread(target=self.server.serve_forever, daemon=True, name="mitake").start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
