"""Signed-cookie sessions for the screens only.

The JSON API authenticates by token (``api.views.load_api_user``) and never reads the session
cookie; it must not write one either, or a browser calling the API would have its screen
session refreshed (and a script would collect cookies it never asked for).
"""
from __future__ import annotations

from flask import request
from flask.sessions import SecureCookieSessionInterface

from tracker.api import is_api_path


class ScreenSessionInterface(SecureCookieSessionInterface):
    def should_set_cookie(self, app, session) -> bool:
        return not is_api_path(request.path) and super().should_set_cookie(app, session)
