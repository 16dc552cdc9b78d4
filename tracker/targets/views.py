"""Yearly targets per unit (filled in by its owner)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from tracker.core.permissions import require

bp = Blueprint("targets", __name__, url_prefix="/targets")


@bp.get("/")
@login_required
def list_targets():
    require("targets.view")
    return render_template("targets/list.html")
