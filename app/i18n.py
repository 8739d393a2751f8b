"""Template translations without Flask-Babel's per-string lookups.

Flask-Babel installs Jinja's gettext as ``get_translations().ugettext(s)``: every string
of a template walks the request context, the domain and the locale again before the
catalogue lookup.  A catalogue page renders a few hundred strings, and that walk was a
third of its time.  :func:`install` keeps Flask-Babel's semantics (the same catalogues,
``force_locale`` honoured) but remembers the translations object for the locale in force,
on Flask-Babel's own per-request namespace, and looks it up again only when the locale
object changes.
"""
from __future__ import annotations

from flask import Flask, g
from flask_babel import get_translations


def _translations():
    ctx = g.get("_flask_babel")  # Flask-Babel's per-context namespace (set on first use)
    locale = getattr(ctx, "babel_locale", None)
    if locale is None:
        return get_translations()
    cached = getattr(ctx, "template_translations", None)
    if cached is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    ctx.template_translations = (locale, translations)
    return translations


def install(app: Flask) -> None:
    """Replace the Jinja gettext callables Flask-Babel installed (call after Babel init)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
