"""The signed-in user's own account: changing one's password.

The change goes through ``operations.set_password`` like an administrator's reset, so it is
audited and bumps ``session_version``: every other browser signed in as this user is signed
out (a stolen session dies with the old password). This browser is kept signed in by starting
a fresh login session, exactly as a login does (new session cookie, new session secret).
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, login_user

from tracker.auth.forms import OwnPasswordForm
from tracker.auth.operations import UserError, end_session, set_password, start_session
from tracker.auth.passwords import verify_password
from tracker.auth.views import SESSION_SECRET_KEY, _fresh_session
from tracker.core.translations import gettext as _
from tracker.extensions import limiter

bp = Blueprint("account", __name__, url_prefix="/account")


def _wrong_password(response) -> bool:
    # Count only refused attempts (a guessed current password), not successful changes.
    return response.status_code != 302


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"],
               deduct_when=_wrong_password, error_message=lambda: _("尝试次数过多，请稍后再试。"))
def change_password():
    """Any signed-in user, for their own account only (there is no user id in the URL)."""
    form = OwnPasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors = [*form.current_password.errors, _("当前密码不正确。")]
        else:
            try:
                set_password(user, user, form.password.data)
            except UserError as err:
                form.password.errors = [*form.password.errors, err.message]
            else:
                end_session(session.get(SESSION_SECRET_KEY))
                secret = start_session(user)
                _fresh_session()
                login_user(user)
                session[SESSION_SECRET_KEY] = secret
                session.permanent = True
                flash(_("密码已修改。其他设备上的登录状态已失效。"), "success")
                return redirect(url_for("account.change_password"))
    status = 422 if form.is_submitted() else 200
    return render_template("auth/password.html", form=form), status
