"""Parts of pages kept as HTML until the data changes (``core.datacache``): a list's body, the
cards of a project page. A kept part may hold forms: it is built with a placeholder where
each form's CSRF token goes, and the viewer's own token is put in on every view, so one
person's token is never served to another. The placeholder carries a random part made at
start-up, so nothing a user types can match it.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import g
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from tracker.core import datacache

_PLACEHOLDER = f"csrf-{secrets.token_hex(16)}"


def csrf_token() -> str:
    """The templates' ``csrf_token()``: the placeholder while a kept part is being built."""
    return _PLACEHOLDER if g.get("_building_piece") else generate_csrf()


def kept(key: Any, render: Callable[[], str], *, shelf: str = "pages") -> Markup:
    """``render()``'s HTML for ``key`` at the current data version (and language), with this
    viewer's CSRF token in its forms; ``shelf``: "pages" for a list's page, "cards" for the
    parts of a record's page (datacache's LRUs)."""
    def build() -> Markup:
        outer = g.get("_building_piece", False)
        g._building_piece = True
        try:
            return Markup(render())
        finally:
            g._building_piece = outer

    html = datacache.cached(key, build, shelf=shelf)
    return Markup(html.replace(_PLACEHOLDER, generate_csrf())) if _PLACEHOLDER in html else html


def init_app(app: Any) -> None:
    """After CSRFProtect, which sets its own ``csrf_token`` both as a global and in every
    ``render_template`` context (a context processor): ours must win in both, or a kept part
    would carry the token of whoever built it."""
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
