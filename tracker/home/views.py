"""The home page per role ("today"): what needs attention now (filled in by its owner)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("home", __name__, url_prefix="/today")


@bp.get("/")
@login_required
def today():
    return render_template("home/today.html")
