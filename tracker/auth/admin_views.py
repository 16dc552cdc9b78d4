"""User administration (role admin): list, create, edit, activate/deactivate, reset password."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker.audit.history import Fields, HistoryItem, history_items
from tracker.audit.models import AuditEntry
from tracker.auth.admin_forms import (
    PER_PAGE,
    PasswordResetForm,
    UserCreateForm,
    UserEditForm,
    UserFilters,
)
from tracker.auth.forms import role_choices
from tracker.auth.models import ROLE_LABELS, Role, Unit, User
from tracker.auth.operations import (
    UserError,
    create_user,
    find_user,
    generate_password,
    set_active,
    set_password,
    update_user,
)
from tracker.core.input import int_arg
from tracker.core.pagination import Page
from tracker.core.permissions import require
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.extensions import db, login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")

HISTORY_LIMIT = 20


@bp.before_request
def _admins_only():
    """Every route here: signed in (else the login page), then the users.manage right (else 403)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    require("users.manage")
    return None


# ---------------------------------------------------------------- helpers

def load_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    require("users.manage")
    return user


def _units(current_id: int | None = None) -> list[Unit]:
    """Active units, plus the one a user is in now even if it has been retired."""
    cond = Unit.is_active.is_(True)
    if current_id is not None:
        cond = cond | (Unit.id == current_id)
    return list(db.session.execute(select(Unit).where(cond).order_by(Unit.sort_order, Unit.id)).scalars())


def _fill_choices(form, user: User | None) -> None:
    form.role.choices = [("", _("请选择"))] + role_choices()
    form.unit_id.choices = [("", _("请选择"))] + [(u.id, u.name) for u in _units(user.unit_id if user else None)]


def _expected_version(form) -> int | None:
    return int_arg(form.version.data)


# How a user's change history reads (tracker.audit.history formats every history).
USER_HISTORY = Fields(
    labels={"display_name": _l("姓名"), "role": _l("角色"), "unit": _l("单位"), "username": _l("用户名"),
            "is_active": _l("启用")},
    choices={"role": {role.value: label for role, label in ROLE_LABELS.items()}},
    hidden=frozenset({"password"}),  # a reset records only that it happened
)


def _history(user: User) -> list[HistoryItem]:
    entries = db.session.execute(
        select(AuditEntry).options(joinedload(AuditEntry.actor))
        .where(AuditEntry.object_type == User.__tablename__, AuditEntry.object_id == user.id)
        .order_by(AuditEntry.id.desc()).limit(HISTORY_LIMIT)
    ).scalars()
    return history_items(entries, USER_HISTORY)


def _keep_own_session(user: User) -> None:
    """Role, unit or password changes bump session_version; keep the acting admin signed in."""
    if user.id == current_user.id:
        login_user(user)


def _render_edit(user: User, form: UserEditForm, password_form: PasswordResetForm, status: int = 200, **extra):
    return render_template(
        "admin/user_form.html", user=user, form=form, password_form=password_form,
        history=_history(user), is_self=user.id == current_user.id, **extra,
    ), status


def _add_error(field, message: str) -> None:
    field.errors = list(field.errors) + [message]


# ---------------------------------------------------------------- list

@bp.get("/users")
def list_users():
    require("users.manage")
    f = UserFilters.from_args(request.args)
    conds = []
    if f.q:
        pattern = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(or_(User.username.ilike(pattern, escape="\\"), User.display_name.ilike(pattern, escape="\\")))
    if f.unit:
        conds.append(User.unit_id == f.unit)
    if f.role:
        conds.append(User.role == f.role)
    if f.active:
        conds.append(User.is_active_user.is_(f.active == "1"))
    total = db.session.execute(select(func.count()).select_from(User).where(*conds)).scalar_one()
    page_no = min(f.page, max(1, -(-total // PER_PAGE)))
    rows = db.session.execute(
        select(User).join(User.unit).where(*conds)
        .order_by(User.is_active_user.desc(), Unit.sort_order, Unit.id, User.username)
        .limit(PER_PAGE).offset((page_no - 1) * PER_PAGE)
    ).unique().scalars().all()
    page = Page(items=list(rows), page=page_no, per_page=PER_PAGE, total=total)
    all_units = db.session.execute(select(Unit).order_by(Unit.sort_order, Unit.id)).scalars().all()
    return render_template("admin/users.html", page=page, f=f, units=all_units, roles=role_choices())


# ---------------------------------------------------------------- create

@bp.route("/users/new", methods=["GET", "POST"], endpoint="create_user")
def create_user_view():
    require("users.manage")
    form = UserCreateForm()
    _fill_choices(form, None)
    status = 200
    if form.validate_on_submit():
        unit = db.session.get(Unit, form.unit_id.data)
        try:
            user = create_user(current_user, username=form.username.data, display_name=form.display_name.data,
                               role=form.role.data, unit=unit, password=form.password.data)
            db.session.flush()  # a conflict surfaces here, inside the try
        except UserError as err:
            db.session.rollback()
            _add_error(form[err.field], err.message)
        except IntegrityError:  # a same-named user saved at the same moment
            db.session.rollback()
            _add_error(form.username, _("用户名已存在。"))
        else:
            flash(_("用户“%(name)s”已创建。", name=user.username), "success")
            return redirect(url_for("admin.list_users", q=user.username))
    if form.errors:
        status = 422
        # Say at once that the username is taken, not only after the other fields are fixed.
        if form.username.data and not form.username.errors and find_user(form.username.data):
            _add_error(form.username, _("用户名已存在。"))
    return render_template("admin/user_form.html", user=None, form=form), status


# ---------------------------------------------------------------- edit

@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = load_user(user_id)
    form = UserEditForm(obj=None if request.method == "POST" else user)
    _fill_choices(form, user)
    password_form = PasswordResetForm(formdata=None)
    if request.method == "GET":
        form.version.data = str(user.version_id)
        return _render_edit(user, form, password_form)
    if not form.validate_on_submit():
        return _render_edit(user, form, password_form, 422)
    if _expected_version(form) != user.version_id:
        return _conflict(user_id, form, password_form)
    if user.id == current_user.id and form.role.data != Role.admin.value:
        _add_error(form.role, _("不能取消自己的系统管理员角色；请由另一位管理员操作。"))
        return _render_edit(user, form, password_form, 422)
    unit = db.session.get(Unit, form.unit_id.data)
    before = (user.display_name, user.role, user.unit_id)
    try:
        update_user(current_user, user, display_name=form.display_name.data, role=form.role.data, unit=unit)
        db.session.flush()  # a conflict surfaces here, inside the try
    except StaleDataError:
        db.session.rollback()
        return _conflict(user_id, form, password_form)
    _keep_own_session(user)
    if before == (user.display_name, user.role, user.unit_id):
        flash(_("没有需要保存的修改。"), "info")
    elif before[1:] != (user.role, user.unit_id) and user.id != current_user.id:
        flash(_("已保存。角色或单位已变更，该用户需重新登录。"), "success")
    else:
        flash(_("已保存修改。"), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


def _conflict(user_id: int, form: UserEditForm, password_form: PasswordResetForm):
    """Someone saved this user in between: keep the input, show the newest version, 409."""
    db.session.rollback()
    fresh = db.session.get(User, user_id)
    if fresh is None:
        abort(404)
    form.version.data = str(fresh.version_id)
    flash(_("保存失败：在您编辑期间，该用户已被他人修改。您填写的内容仍保留在下方，当前保存的内容见右侧；核对后再次保存即可覆盖。"), "error")
    return _render_edit(fresh, form, password_form, 409, conflict=True)


# ---------------------------------------------------------------- activate / deactivate

@bp.post("/users/<int:user_id>/deactivate")
def deactivate_user(user_id: int):
    user = load_user(user_id)
    if user.id == current_user.id:
        flash(_("不能停用自己的账号；请由另一位管理员操作。"), "error")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    set_active(current_user, user, False)
    flash(_("已停用用户“%(name)s”，其登录状态已失效。", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/users/<int:user_id>/activate")
def activate_user(user_id: int):
    user = load_user(user_id)
    set_active(current_user, user, True)
    flash(_("已启用用户“%(name)s”。", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


# ---------------------------------------------------------------- password

@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int):
    user = load_user(user_id)
    password_form = PasswordResetForm()
    if password_form.validate_on_submit():
        try:
            set_password(current_user, user, password_form.password.data)
        except UserError as err:
            db.session.rollback()
            _add_error(password_form.password, err.message)
        else:
            _keep_own_session(user)
            flash(_("已为“%(name)s”设置新密码，其原有登录状态已失效。", name=user.username), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    form = UserEditForm(formdata=None, obj=user)
    _fill_choices(form, user)
    form.version.data = str(user.version_id)
    return _render_edit(user, form, password_form, 422)


@bp.post("/users/<int:user_id>/password/generate")
def generate_user_password(user_id: int):
    """重置密码: a random password, shown on this one response only (not flashed, not stored,
    not cached); the user's sessions end. Reloading does not show it again (a POST)."""
    user = load_user(user_id)
    password = generate_password()
    set_password(current_user, user, password)
    _keep_own_session(user)
    response = make_response(render_template("admin/password_shown.html", user=user, password=password))
    response.headers["Cache-Control"] = "no-store"
    return response
