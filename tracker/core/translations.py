"""Flask-Babel with the request's translations looked up once, not once per string.

Flask-Babel's ``get_translations`` reads ``g`` about ten times and rebuilds the locale's
identifier on every call; a project page translates ~150 strings, which made the lookup
2–4 ms of a 25 ms page (bench/load.py, issue 12). The catalog found is kept in the request's
``babel_translations`` slot, the one Flask-Babel itself resets in ``force_locale`` and
``refresh``, so a forced locale (PDF jobs, the ledger's Chinese headings) still translates
in its own language.
"""
from __future__ import annotations

from functools import cached_property

from flask.globals import _cv_app
from flask_babel import Babel, Domain


def _babel_state():
    """Flask-Babel's state in ``g`` (``g._flask_babel``), or None: read from the app context
    directly, not through the ``g`` proxy (three proxy lookups a string otherwise; a project
    page translates ~150 strings)."""
    ctx = _cv_app.get(None)
    return None if ctx is None else ctx.g.__dict__.get("_flask_babel")


class RequestCachedDomain(Domain):
    def get_translations(self):
        cached = getattr(_babel_state(), "babel_translations", None)
        if cached is None:
            cached = super().get_translations()  # creates g._flask_babel inside a request
            state = _babel_state()
            if state is not None:
                state.babel_translations = cached
        return cached


class TrackerBabel(Babel):
    @cached_property
    def domain_instance(self):
        return RequestCachedDomain(domain=self.domain)

    def init_app(self, app, *args, **kwargs):
        super().init_app(app, *args, **kwargs)
        # Templates go to the domain directly (Flask-Babel's callables look a per-request
        # domain up in ``g`` first; this app has one domain).
        def translations():
            return self.domain_instance.get_translations()

        app.jinja_env.install_gettext_callables(
            gettext=lambda s: translations().ugettext(s),
            ngettext=lambda s, p, n: translations().ungettext(s, p, n),
            pgettext=lambda c, s: translations().upgettext(c, s),
            npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
            newstyle=True,
        )
