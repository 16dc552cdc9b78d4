"""The home page per role ("today"): what needs attention now. Every role lands here after
signing in (``tracker.auth.views.home_for``); the data comes from ``tracker.home.queries``
in a fixed number of queries, the template only renders it."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from tracker.auth.models import Role
from tracker.core.formatting import today_local
from tracker.home import queries

bp = Blueprint("home", __name__, url_prefix="/today")


@bp.get("/")
@login_required
def today():
    now = today_local()
    role = current_user.role
    data = {
        "staff": lambda: queries.staff_home(current_user, now),
        "manager": lambda: queries.manager_home(current_user, now),
        "leader": lambda: queries.leader_home(current_user, now),
        "admin": lambda: queries.admin_home(current_user),
    }[role]()
    return render_template("home/today.html", role=role, home=data, today=now,
                           role_labels={r.value: r.label for r in Role})
