"""Login, logout and language choice."""
from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from tracker.api import is_api_path
from tracker.auth.forms import LoginForm
from tracker.auth.operations import (
    canonical_username,
    end_session,
    find_user,
    note_login,
    session_user,
    start_session,
)
from tracker.auth.passwords import hash_password, needs_rehash, verify_password
from tracker.core.translations import gettext as _
from tracker.extensions import limiter, login_manager

bp = Blueprint("auth", __name__)


SESSION_SECRET_KEY = "sid"  # the login session's secret in the (signed) session cookie


@login_manager.user_loader
def load_user(token: str):
    if is_api_path(request.path):
        return None  # the API takes tokens only (see api.views.load_api_user): no cookie, no CSRF
    try:
        user_id, version = (int(part) for part in token.split(":", 1))
    except ValueError:
        return None
    if not (0 < user_id < 2**31 and 0 < version < 2**31):
        return None
    # Ended by logout (this browser), a changed session_version (logout everywhere, password
    # change, deactivation: every browser) or deactivation: no user.
    return session_user(user_id, version, session.get(SESSION_SECRET_KEY))


def safe_next(target: str | None) -> str | None:
    """Only local paths: no scheme, no host, no protocol-relative or backslash tricks, and no
    control characters or spaces (CR/LF cannot go into a Location header; browsers drop tabs
    and newlines, which turns "/\t/host" into "//host")."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_for(user) -> str:
    """Where a signed-in user lands: every role's home page ("今日", tracker.home)."""
    return url_for("home.today")


def _fresh_session() -> None:
    """Start a new session (no fixation) keeping only the chosen UI language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _account_key() -> str:
    # The same spelling the lookup uses (find_user), so no variant of a locked name gets past.
    return "login-account:" + canonical_username(request.form.get("username"))[:40]


def _failed(response) -> bool:
    # Count only failed attempts: a successful login redirects.
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"],
               deduct_when=_failed, error_message=lambda: _("登录尝试次数过多，请稍后再试。"))
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_account_key, deduct_when=_failed,
               error_message=lambda: _("该账号登录失败次数过多，请 5 分钟后再试。"))
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = find_user(form.username.data)
        ok = verify_password(user.password_hash if user else None, form.password.data)
        if user is not None and ok and user.is_active:
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(form.password.data)
            note_login(user)
            secret = start_session(user)
            _fresh_session()
            login_user(user)
            session[SESSION_SECRET_KEY] = secret
            session.permanent = True
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        # Same message for an unknown user, a wrong password and a deactivated account.
        form.password.errors.append(_("用户名或密码不正确。"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    end_session(session.get(SESSION_SECRET_KEY))
    logout_user()
    _fresh_session()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.form.get("next")) or url_for("projects.list_projects"))
