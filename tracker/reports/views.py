"""Dashboard and reports (filled in by its owner)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from tracker.core.permissions import require

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/")
@login_required
def dashboard():
    require("reports.view")
    return render_template("reports/dashboard.html")
