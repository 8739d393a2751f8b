"""The citizens' public site (server-rendered, accessible, Traditional Chinese by default)."""
from __future__ import annotations

import importlib.util

from flask import Flask


def _optional(name: str):
    """Modules other areas add (payments, account pages); registered when present."""
    full = f"{__name__}.{name}"
    return importlib.import_module(full) if importlib.util.find_spec(full) else None


def register_public(app: Flask) -> None:
    from . import auth, catalogue, filters, pages, registration

    auth.init_auth(app)
    filters.register(app)
    app.register_blueprint(catalogue.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(registration.bp)
    registration.init_registration(app)
    for name in ("account", "payments", "survey"):
        module = _optional(name)
        if module is not None:
            app.register_blueprint(module.bp)
