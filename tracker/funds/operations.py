"""Recording funds in place (到位资金). Every change is audited; nothing here commits.

``Project.funds_in_place`` is the sum of the project's records. Both operations lock the
project row first (PostgreSQL: ``FOR UPDATE``; SQLite serialises writers itself), so two
people recording at once each see the other's amount in the total they check and store, and
they set the sum with a bulk UPDATE, which does not bump the project's edit version: someone
editing the project form meanwhile is not told the project changed.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from tracker.audit.operations import record
from tracker.core.formatting import today_local
from tracker.core.input import InputError, validate
from tracker.core.permissions import can
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.funds.models import FundsRecord
from tracker.funds.schemas import DeleteInput, FundsInput
from tracker.projects.models import Project
from tracker.projects.operations import ArchivedProject
from tracker.projects.recency import touch
from tracker.projects.schemas import WAN_PER_YI
from tracker.workflow.operations import NotAllowed

__all__ = ["ArchivedProject", "NotAllowed", "add_funds", "funds_total", "over_investment", "remove_funds"]


def funds_total(project_id: int) -> Decimal:
    """The sum of the project's records (万元), read from the records themselves."""
    return db.session.execute(
        select(func.coalesce(func.sum(FundsRecord.amount), 0)).where(FundsRecord.project_id == project_id)
    ).scalar_one()


def over_investment(total: Decimal, investment: Decimal | None) -> str | None:
    """The question to ask when ``total`` is above the contracted investment, else None."""
    if investment is None or total <= investment:
        return None
    return _("登记后累计到位资金为 %(total)s 万元（%(yi)s 亿元），超过协议投资额 %(inv)s 万元。"
             "请核对金额单位；确认无误请勾选“确认超过协议投资额”后再保存。",
             total=f"{total:,.2f}", yi=f"{total / WAN_PER_YI:,.4f}", inv=f"{investment:,.2f}")


def _check_actor(actor: Any, project: Project) -> None:
    if not can("funds.record", project, actor):
        raise NotAllowed(_("您的角色不能为该项目登记到位资金。"))
    if project.is_archived:
        raise ArchivedProject()


def _lock(project: Project) -> None:
    db.session.execute(select(Project.id).where(Project.id == project.id).with_for_update())


def _store_sum(project: Project, total: Decimal) -> Decimal:
    """Set ``funds_in_place`` to ``total``, the records' sum the caller read under the row
    lock and changed by its one record, without bumping the edit version."""
    db.session.flush()
    total = Decimal(total).quantize(Decimal("0.01"))
    db.session.execute(update(Project).where(Project.id == project.id).values(funds_in_place=total)
                       .execution_options(synchronize_session=False))
    set_committed_value(project, "funds_in_place", total)  # the object in step, not dirty
    touch(project.id)
    return total


def add_funds(actor: Any, project: Project, received_on: date | str | None, amount: Decimal | str | None,
              note: str | None = "", evidence: str | None = "", confirm: bool = False, *,
              upload: Any = None, unit: str | None = "wan") -> FundsRecord:
    """Record ``amount`` (万元; text such as ``5.2亿`` is read too) received on ``received_on``.

    The values, typed or as posted, go through ``FundsInput`` (the input's rules); raises
    ``InputError`` {field: message} for bad input, and with ``confirm`` as one of the
    fields when the new total would exceed the contracted investment and ``confirm`` is
    false; ``ArchivedProject`` for an archived project; ``NotAllowed`` for a role that may
    not record. ``upload`` (a FileStorage) is stored as the record's scan (PDF/JPEG/PNG),
    refused with ``ValueError`` and a message.
    """
    _check_actor(actor, project)
    data = validate(FundsInput, {"received_on": received_on, "amount_unit": unit, "amount": amount,
                                 "note": note, "evidence": evidence, "confirm": confirm})

    _lock(project)
    after = funds_total(project.id) + data.amount
    question = over_investment(after, project.contracted_investment)
    if question and not data.confirm:
        raise InputError({"amount": _("登记后累计到位资金将超过协议投资额，请核对金额单位。"), "confirm": question})

    attachment = None
    if upload is not None and getattr(upload, "filename", None):
        from tracker.workflow.attachments import store_upload

        attachment = store_upload(actor, project, None, upload)
    row = FundsRecord(project_id=project.id, received_on=data.received_on, amount=data.amount, note=data.note,
                      evidence=data.evidence, attachment_id=attachment.id if attachment else None,
                      recorded_by_id=getattr(actor, "id", None))
    db.session.add(row)
    total = _store_sum(project, after)
    # A create records bare values: the new total (a delete records the before/after pair).
    changes: dict[str, Any] = {"received_on": data.received_on, "amount": data.amount, "funds_in_place": total}
    if data.note:
        changes["note"] = data.note
    if data.evidence:
        changes["evidence"] = data.evidence
    if attachment is not None:
        changes["attachment"] = attachment.original_name
    if question:
        changes["confirmed_above_investment"] = True
    record(actor, "funds.create", row, changes, project_id=project.id)
    return row


def remove_funds(actor: Any, row: FundsRecord, reason: str | None = "") -> Decimal:
    """Delete a record (a mistaken entry); returns the project's new total. The scan, if
    any, stays among the project's evidence."""
    project = db.session.get(Project, row.project_id)
    assert project is not None
    _check_actor(actor, project)
    reason = validate(DeleteInput, {"reason": reason}).reason
    _lock(project)
    before = funds_total(project.id)
    changes: dict[str, Any] = {"received_on": row.received_on, "amount": row.amount}
    if row.evidence:
        changes["evidence"] = row.evidence
    if reason:
        changes["reason"] = reason
    db.session.delete(row)
    total = _store_sum(project, before - row.amount)
    changes["funds_in_place"] = [before, total]
    record(actor, "funds.delete", row, changes, project_id=project.id)
    return total


def opening_funds(actor: Any, project: Project) -> dict[str, Any] | None:
    """The first funds record of a new project with funds already in place (the create
    form's optional amount, set as its ``funds_in_place``), as the row to insert: dated at
    the signing (today when unsigned or signed in the future). ``create_projects`` inserts
    and audits it. The create form's own amount check has asked about an amount above the
    investment already."""
    amount = project.funds_in_place
    if amount is None or amount <= 0:
        return None
    today = today_local()
    return {"project_id": project.id, "amount": amount, "evidence": "", "note": _("新建项目时填写的已到位资金"),
            "received_on": project.signed_on if project.signed_on and project.signed_on <= today else today,
            "recorded_by_id": getattr(actor, "id", None)}
