"""Test helpers for notifications: a real SMTP server, a Mitake-shaped SMS gateway and
real ``rq`` worker processes."""
import socket


def free_port() -> int:
    """A TCP port nobody listens on right now (aiosmtpd's Controller cannot take 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
