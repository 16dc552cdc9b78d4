"""Reference-data changes (industries, source regions, platforms, units), one implementation
for every kind in ``reference_forms.KINDS``. Every change is audited; nothing here commits."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select

from tracker.audit.operations import diff, jsonable, record
from tracker.auth.models import Unit
from tracker.core.input import InputError as FieldErrors  # {field: message}, found by the database
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.reference_forms import RefKind


class StaleRow(Exception):
    """The row changed since the form was opened."""


class InUse(Exception):
    """The row is referenced and cannot be deleted (retire it instead)."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


class NotAllowed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def fingerprint(kind: RefKind, row: Any) -> str:
    """A short digest of the editable values: the form carries it to detect concurrent edits."""
    payload = json.dumps([jsonable(getattr(row, name)) for name in kind.fields], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def duplicates(kind: RefKind, values: dict[str, Any], exclude_id: int | None) -> dict[str, str]:
    errors = {}
    for name in kind.unique:
        value = values.get(name)
        if not value:
            continue
        column = getattr(kind.model, name)
        q = select(kind.model.id).where(func.lower(column) == value.lower())
        if exclude_id is not None:
            q = q.where(kind.model.id != exclude_id)
        if db.session.execute(q.limit(1)).first() is not None:
            errors[name] = (
                _("已存在同名的%(kind)s（可能已停用），请换一个名称或启用原有记录。", kind=kind.title)
                if name == "name" else _("该代码已被使用，请换一个。")
            )
    return errors


def _readable(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Platform unit ids are recorded with the unit names beside them."""
    if "unit_id" in changes:
        names = []
        for unit_id in changes["unit_id"]:
            unit = db.session.get(Unit, unit_id) if unit_id is not None else None
            names.append(unit.name if unit else None)
        changes["unit"] = names
    return changes


def create_row(actor, kind: RefKind, values: dict[str, Any]) -> Any:
    values = {k: values[k] for k in kind.fields if k in values}
    errors = duplicates(kind, values, None)
    if errors:
        raise FieldErrors(errors)
    row = kind.model(**values)
    db.session.add(row)
    db.session.flush()
    snapshot = {k: jsonable(v) for k, v in values.items()}
    if values.get("unit_id") is not None:
        snapshot["unit"] = db.session.get(Unit, values["unit_id"]).name
    record(actor, f"{kind.table}.create", row, snapshot)
    return row


def update_row(actor, kind: RefKind, row: Any, values: dict[str, Any], expected: str | None) -> dict[str, list[Any]]:
    """Apply an edit; raises StaleRow when the row changed since ``expected`` was taken."""
    if expected != fingerprint(kind, row):
        raise StaleRow()
    values = {k: values[k] for k in kind.fields if k in values}
    errors = duplicates(kind, values, row.id)
    if errors:
        raise FieldErrors(errors)
    if getattr(row, "is_city", False) and values.get("is_active") is False:
        raise FieldErrors({"is_active": _("市级单位不能停用。")})
    changes = diff(row, list(values), values)
    if not changes:
        return {}
    for key, value in values.items():
        setattr(row, key, value)
    db.session.flush()
    record(actor, f"{kind.table}.update", row, _readable(changes))
    return changes


def set_row_active(actor, kind: RefKind, row: Any, active: bool) -> bool:
    """Retire (active=False) or bring back a row. Returns whether anything changed."""
    if row.is_active == active:
        return False
    if not active and getattr(row, "is_city", False):
        raise NotAllowed(_("市级单位不能停用。"))
    row.is_active = active
    db.session.flush()
    record(actor, f"{kind.table}.{'activate' if active else 'retire'}", row, {"is_active": [not active, active]})
    return True


def _referencing_columns(kind: RefKind) -> list[Any]:
    """Every foreign-key column in the schema that points at this kind's table."""
    out = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == kind.table:
                out.append(fk.parent)
    return out


def usage_counts(kind: RefKind, ids: list[int]) -> dict[int, int]:
    """How many rows in other tables refer to each id (projects, investors, users …)."""
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    for column in _referencing_columns(kind):
        rows = db.session.execute(
            select(column, func.count()).where(column.in_(ids)).group_by(column)
        ).all()
        for ref_id, n in rows:
            counts[ref_id] = counts.get(ref_id, 0) + n
    return counts


def delete_row(actor, kind: RefKind, row: Any) -> None:
    """Delete a row nothing refers to; a referenced row must be retired instead (InUse)."""
    used = usage_counts(kind, [row.id])[row.id]
    if used:
        raise InUse(used)
    if getattr(row, "is_city", False):
        raise NotAllowed(_("市级单位不能删除。"))
    record(actor, f"{kind.table}.delete", row, {k: [jsonable(getattr(row, k)), None] for k in kind.fields})
    db.session.delete(row)
    db.session.flush()
