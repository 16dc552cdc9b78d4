"""Reference-data screens (role admin): industries, source regions, platforms, units.

One set of routes serves every kind in ``reference_forms.KINDS``; the ``kind`` URL segment
picks the spec (unknown kinds are 404).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from tracker.audit.history import Fields, HistoryItem, history_items
from tracker.audit.models import AuditEntry
from tracker.auth.models import Unit
from tracker.core.permissions import require
from tracker.core.translations import gettext as _
from tracker.extensions import db, login_manager
from tracker.projects.reference_forms import KINDS, RefKind
from tracker.projects.reference_operations import (
    FieldErrors,
    InUse,
    NotAllowed,
    StaleRow,
    create_row,
    delete_row,
    duplicates,
    fingerprint,
    set_row_active,
    update_row,
    usage_counts,
)

bp = Blueprint("reference", __name__, url_prefix="/admin/reference")

DEFAULT_KIND = "industries"
HISTORY_LIMIT = 20


@bp.before_request
def _admins_only():
    """Every route here: signed in (else the login page), then reference.manage (else 403)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    require("reference.manage")
    return None


# ---------------------------------------------------------------- helpers

def _kind(slug: str) -> RefKind:
    kind = KINDS.get(slug)
    if kind is None:
        abort(404)
    return kind


def _load(kind: RefKind, row_id: int, lock: bool = False):
    # FOR UPDATE on PostgreSQL; SQLite write transactions are BEGIN IMMEDIATE already.
    row = db.session.get(kind.model, row_id, with_for_update=lock or None)
    if row is None:
        abort(404)
    require("reference.manage")
    return row


def _rows(kind: RefKind) -> list:
    q = select(kind.model).order_by(kind.model.is_active.desc(), kind.model.sort_order, kind.model.id)
    if "unit_id" in kind.fields:
        q = q.options(joinedload(kind.model.unit))
    return list(db.session.execute(q).scalars())


def _fill_choices(form, row) -> None:
    if "unit_id" in form:
        current = getattr(row, "unit_id", None)
        cond = Unit.is_active.is_(True) | (Unit.id == current) if current else Unit.is_active.is_(True)
        units = db.session.execute(select(Unit).where(cond).order_by(Unit.sort_order, Unit.id)).scalars()
        form.unit_id.choices = [("", _("（不限）"))] + [(u.id, u.name) for u in units]


def _history(kind: RefKind, row) -> list[HistoryItem]:
    entries = db.session.execute(
        select(AuditEntry).options(joinedload(AuditEntry.actor))
        .where(AuditEntry.object_type == kind.table, AuditEntry.object_id == row.id)
        .order_by(AuditEntry.id.desc()).limit(HISTORY_LIMIT)
    ).scalars()
    return history_items(entries, Fields(labels=kind.labels))


def _apply_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        form[name].errors = list(form[name].errors) + [message]


def _also_duplicates(kind: RefKind, form, row) -> None:
    """A refused form also says at once when the name (or code) is taken."""
    values = {name: form[name].data for name in kind.unique if not form[name].errors}
    _apply_errors(form, duplicates(kind, values, row.id if row is not None else None))


def _render_form(kind: RefKind, form, row, status: int = 200, **extra):
    return render_template(
        "admin/reference_form.html", kind=kind, kinds=KINDS, form=form, row=row,
        history=_history(kind, row) if row is not None else [], **extra,
    ), status


# ---------------------------------------------------------------- list

@bp.get("", endpoint="index")
def index():
    return _render_list(KINDS[DEFAULT_KIND])


@bp.get("/<kind>")
def list_rows(kind: str):
    return _render_list(_kind(kind))


def _render_list(kind: RefKind):
    require("reference.manage")
    rows = _rows(kind)
    counts = usage_counts(kind, [r.id for r in rows])
    return render_template("admin/reference_list.html", kind=kind, kinds=KINDS, rows=rows, counts=counts)


# ---------------------------------------------------------------- create / edit

@bp.route("/<kind>/new", methods=["GET", "POST"], endpoint="create_row")
def create_row_view(kind: str):
    spec = _kind(kind)
    require("reference.manage")
    form = spec.form()
    _fill_choices(form, None)
    if form.validate_on_submit():
        try:
            row = create_row(current_user, spec, spec.values(form))
            db.session.flush()  # a conflict surfaces here, inside the try
        except FieldErrors as err:
            db.session.rollback()
            _apply_errors(form, err.errors)
        except IntegrityError:  # the same name saved at the same moment
            db.session.rollback()
            _apply_errors(form, {"name": _("已存在同名记录，请换一个名称。")})
        else:
            flash(_("已新增%(kind)s“%(name)s”。", kind=spec.title, name=row.name), "success")
            return redirect(url_for("reference.list_rows", kind=spec.slug))
    elif form.errors:
        _also_duplicates(spec, form, None)
    return _render_form(spec, form, None, 422 if form.errors else 200)


@bp.route("/<kind>/<int:row_id>/edit", methods=["GET", "POST"])
def edit_row(kind: str, row_id: int):
    spec = _kind(kind)
    row = _load(spec, row_id, lock=request.method == "POST")
    form = spec.form(obj=None if request.method == "POST" else row)
    _fill_choices(form, row)
    if request.method == "GET":
        form.fingerprint.data = fingerprint(spec, row)
        return _render_form(spec, form, row)
    if not form.validate_on_submit():
        _also_duplicates(spec, form, row)
        return _render_form(spec, form, row, 422)
    try:
        changes = update_row(current_user, spec, row, spec.values(form), form.fingerprint.data)
        db.session.flush()  # a conflict surfaces here, inside the try
    except FieldErrors as err:
        db.session.rollback()
        _apply_errors(form, err.errors)
        return _render_form(spec, form, row, 422)
    except IntegrityError:
        db.session.rollback()
        _apply_errors(form, {"name": _("已存在同名记录，请换一个名称。")})
        return _render_form(spec, form, row, 422)
    except StaleRow:
        db.session.rollback()
        fresh = _load(spec, row_id)
        form.fingerprint.data = fingerprint(spec, fresh)
        flash(_("保存失败：在您编辑期间，该记录已被他人修改。您填写的内容仍保留在下方，当前保存的内容见右侧；核对后再次保存即可覆盖。"), "error")
        return _render_form(spec, form, fresh, 409, conflict=True)
    if changes:
        flash(_("已保存%(kind)s“%(name)s”。", kind=spec.title, name=row.name), "success")
    else:
        flash(_("没有需要保存的修改。"), "info")
    return redirect(url_for("reference.list_rows", kind=spec.slug))


# ---------------------------------------------------------------- retire / activate / delete

@bp.post("/<kind>/<int:row_id>/retire")
def retire_row(kind: str, row_id: int):
    return _set_active(kind, row_id, False)


@bp.post("/<kind>/<int:row_id>/activate")
def activate_row(kind: str, row_id: int):
    return _set_active(kind, row_id, True)


def _set_active(slug: str, row_id: int, active: bool):
    spec = _kind(slug)
    row = _load(spec, row_id, lock=True)
    try:
        changed = set_row_active(current_user, spec, row, active)
    except NotAllowed as err:
        db.session.rollback()
        flash(err.message, "error")
    else:
        if changed and active:
            flash(_("已启用“%(name)s”。", name=row.name), "success")
        elif changed:
            flash(_("已停用“%(name)s”：已有记录不受影响，新建和编辑时不再可选。", name=row.name), "success")
    return redirect(url_for("reference.list_rows", kind=spec.slug))


@bp.post("/<kind>/<int:row_id>/delete", endpoint="delete_row")
def delete_row_view(kind: str, row_id: int):
    spec = _kind(kind)
    row = _load(spec, row_id, lock=True)
    name = row.name
    try:
        delete_row(current_user, spec, row)
    except InUse as err:
        db.session.rollback()
        flash(_("“%(name)s”已被 %(n)d 条记录引用，不能删除；如不再使用，请将其停用。", name=name, n=err.count), "error")
    except NotAllowed as err:
        db.session.rollback()
        flash(err.message, "error")
    else:
        flash(_("已删除“%(name)s”。", name=name), "success")
    return redirect(url_for("reference.list_rows", kind=spec.slug))

