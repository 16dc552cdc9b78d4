"""Flask-Babel with the request's translations looked up once, not once per string.

Flask-Babel's ``get_translations`` reads ``g`` about ten times and rebuilds the locale's
identifier on every call; a project page translates ~150 strings, which made the lookup
2–4 ms of a 25 ms page (bench/load.py, issue 12). The catalog found is kept in the request's
``babel_translations`` slot, the one Flask-Babel itself resets in ``force_locale`` and
``refresh``, so a forced locale (PDF jobs, the ledger's Chinese headings) still translates
in its own language.

The app's code translates with this module's ``gettext``, ``lazy_gettext`` and
``get_locale``: Flask-Babel's own find the domain and the locale through the ``g`` proxy
on every call (a fifth of the stage history card's time went to its labels' lookups).
They assume the app's one domain (nothing here uses ``Domain.as_default``).
"""
from __future__ import annotations

from functools import cached_property

import flask_babel
from babel.support import NullTranslations
from flask.globals import _cv_app
from flask_babel import Babel, Domain
from flask_babel.speaklater import LazyString


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
        # Templates go to the catalog directly, as the code does (``translations``).
        app.jinja_env.install_gettext_callables(
            gettext=lambda s: translations().ugettext(s),
            ngettext=lambda s, p, n: translations().ungettext(s, p, n),
            pgettext=lambda c, s: translations().upgettext(c, s),
            npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
            newstyle=True,
        )


def translations():
    """The catalog of the request's language, from the app's one domain (the same object for
    every app of this process: one TrackerBabel); outside an app context none (the strings
    themselves), as Flask-Babel does."""
    ctx = _cv_app.get(None)
    if ctx is None:
        return NullTranslations()
    return ctx.app.extensions["babel"].instance.domain_instance.get_translations()


def gettext(string: str, **variables) -> str:
    """Flask-Babel's ``gettext``."""
    translated = translations().ugettext(string)
    return translated % variables if variables else translated


def lazy_gettext(string: str, **variables) -> LazyString:
    """Flask-Babel's ``lazy_gettext``: translated when shown, in the language of that moment."""
    return LazyString(gettext, string, **variables)


def get_locale():
    """Flask-Babel's ``get_locale``: the request's locale once it has been chosen."""
    locale = getattr(_babel_state(), "babel_locale", None)
    return locale if locale is not None else flask_babel.get_locale()
