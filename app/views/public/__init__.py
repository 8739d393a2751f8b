"""The citizens' public site (server-rendered, accessible, Traditional Chinese by default)."""
from __future__ import annotations

from flask import Flask


def register_public(app: Flask) -> None:
    from . import auth, catalogue, filters

    auth.init_auth(app)
    filters.register(app)
    app.register_blueprint(catalogue.bp)
    try:
        from . import account, registration  # added by the registration engine
    except ImportError:  # pragma: no cover - during the foundation only
        return
    app.register_blueprint(account.bp)
    app.register_blueprint(registration.bp)
