"""Screens of tracker.progress: the stage-deadline page (admins) and the template globals
behind the lights on the project page and the project list."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker.audit.models import AuditEntry
from tracker.core.formatting import ui_is_zh
from tracker.core.input import InputError
from tracker.core.permissions import require
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.progress import display
from tracker.progress import operations as ops
from tracker.progress.models import DEFAULT_DEADLINES, StageDeadline
from tracker.workflow.stages import label

bp = Blueprint("progress", __name__)

HISTORY_LIMIT = 20


@bp.app_template_global()
def project_progress(project: Any) -> dict[str, Any]:
    return display.project_progress(project)


@bp.app_template_global()
def light_of(due_on, red_on, stage: str, archived: bool = False):
    """A list row's light: ``.colour`` ("red"/"yellow"/"") and ``.days_late``."""
    return display.light_of(due_on, red_on, stage, archived)


# ---------------------------------------------------------------- stage deadlines (admin)

def _rows(rows: dict[str, StageDeadline], posted: Any = None, errors: dict[str, str] | None = None) -> list[dict]:
    """One line per stage: saved values, or what was posted (kept on error/conflict)."""
    out = []
    for stage in ops.DEADLINE_STAGES:
        row = rows.get(stage)
        nxt = display.lights.next_stage(stage)
        yellow = row.yellow_months if row else None
        red = row.red_months if row else None
        version = row.version_id if row else ""
        if posted is not None:
            yellow_in, red_in = posted.get(f"yellow_{stage}", ""), posted.get(f"red_{stage}", "")
        else:
            yellow_in, red_in = yellow, red
        out.append({
            "stage": stage, "label": label(stage), "next_label": label(nxt) if nxt else "",
            "yellow": yellow_in if yellow_in is not None else "", "red": red_in if red_in is not None else "",
            "saved_yellow": yellow, "saved_red": red,
            "version": posted.get(f"version_{stage}", version) if posted is not None else version,
            "default": DEFAULT_DEADLINES[stage],
            "yellow_error": (errors or {}).get(f"yellow_{stage}"),
            "red_error": (errors or {}).get(f"red_{stage}"),
        })
    return out


def _pair(value: Any) -> list | None:
    """[before, after] of an update; a create's bare value reads as [—, value]."""
    if value is None:
        return None
    return list(value) if isinstance(value, list) and len(value) == 2 else ["—", value]


def _history() -> list[dict]:
    entries = db.session.execute(
        select(AuditEntry).options(joinedload(AuditEntry.actor))
        .where(AuditEntry.object_type == StageDeadline.__tablename__)
        .order_by(AuditEntry.id.desc()).limit(HISTORY_LIMIT)
    ).scalars()
    out = []
    for e in entries:
        changes = e.changes or {}
        stage = changes.get("stage", "")
        out.append({"entry": e, "stage_label": label(stage) if stage else "",
                    "yellow": _pair(changes.get("yellow_months")), "red": _pair(changes.get("red_months"))})
    return out


def _render(rows: list[dict], status: int = 200, **extra):
    from tracker.projects.reference_forms import KINDS

    return render_template("progress/deadlines.html", rows=rows, history=_history(), kinds=KINDS, **extra), status


@bp.route("/admin/deadlines", methods=["GET", "POST"])
@login_required
def deadlines():
    require("reference.manage")
    if request.method == "GET":
        return _render(_rows(ops.current()))
    try:
        inputs = ops.parse_deadlines(request.form)
    except InputError as err:
        return _render(_rows(ops.current(), request.form, err.errors), 422, has_errors=True)
    try:
        changed = ops.update_deadlines(current_user, inputs)
        db.session.flush()
    except (ops.StaleDeadlines, StaleDataError) as err:
        db.session.rollback()
        fresh = ops.current()
        rows = _rows(fresh, request.form)
        for r in rows:  # the form now carries the newest versions: saving again overwrites
            saved = fresh.get(r["stage"])
            r["version"] = saved.version_id if saved else ""
        stale = set(getattr(err, "stages", []))
        flash(_("保存失败：在您编辑期间，阶段期限已被他人修改。您填写的内容仍保留在下方，当前保存的值见每行右侧；核对后再次保存即可覆盖。"),
              "error")
        return _render(rows, 409, conflict=True, stale=stale)
    if changed:
        flash(_("已保存阶段期限（%(stages)s），相关项目的亮灯已按新期限重新计算。",
                stages=("、" if ui_is_zh() else ", ").join(label(s) for s in changed)), "success")
    else:
        flash(_("没有需要保存的修改。"), "info")
    return redirect(url_for("progress.deadlines"))
