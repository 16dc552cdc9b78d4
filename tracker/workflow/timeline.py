"""The project page's timeline (变更记录): the project's audit entries, newest first, as read
by ``tracker.audit.history`` plus what only the workflow knows — a request's move, a decision
named by the request it decided, and an approval read as one event with the stage change it
caused. The view builds it; the template renders it with the shared ``history_list`` macro.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tracker.audit.history import Fields, HistoryFormatter, HistoryItem, Line, display_value
from tracker.audit.models import AuditEntry
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.extensions import db
from tracker.projects.forms import FIELD_LABELS
from tracker.workflow.display import REQUIREMENTS, move_date_label
from tracker.workflow.models import StageRequest
from tracker.workflow.stages import BY_CODE, MILESTONE_CODES, MOVE_LABELS

_AMOUNTS = ("contracted_investment", "fixed_asset_investment", "foreign_investment_usd", "funds_in_place",
            "expected_output", "expected_tax")


def _project_fields() -> Fields:
    labels: dict[str, Any] = {
        "paused_from_stage": _l("暂缓前阶段"), "status_reason": _l("状态说明"), "investor": _l("投资方"),
        "comment": _l("审批意见"), "signatory_local": _l("我方签约人"), "signatory_investor": _l("投资方签约人"),
        "signatory_local_title": _l("我方签约人职务"), "signatory_investor_title": _l("投资方签约人职务"),
        "round_no": _l("签约批次"),
    }
    labels.update({key: r.label for key, r in REQUIREMENTS.items()})
    labels.update(FIELD_LABELS)
    kinds = {key: r.kind for key, r in REQUIREMENTS.items()}
    kinds.update(dict.fromkeys(_AMOUNTS, "amount"), land_area_mu="area", signed_on="date")
    for code in MILESTONE_CODES:
        stage = BY_CODE[code].label  # lazy: read in the page's language
        labels[f"milestone.{code}"] = _l("%(stage)s 实际日期", stage=stage)
        labels[f"planned.{code}"] = _l("%(stage)s 计划日期", stage=stage)
        kinds[f"milestone.{code}"] = kinds[f"planned.{code}"] = "date"
    return Fields(
        labels=labels, kinds=kinds,
        hidden=frozenset({"project"}),  # the project's own name, on its own page
        # The page shows what these recorded (the facts, the attachment list, the banner).
        title_only=frozenset({"project.create", "seed.create", "project.archive", "project.restore",
                              "attachment.create", "attachment.upload", "attachment.delete",
                              "ceremony.add_project", "ceremony.remove_project"}),
    )


PROJECT_FIELDS = _project_fields()
_DECISIONS = ("stage_request.approve", "stage_request.reject", "stage_request.withdraw")


def project_timeline(entries: list[AuditEntry]) -> list[HistoryItem]:
    """Timeline items for a page of a project's entries (newest first, as given): one query
    for the stage requests the page mentions, one per kind of reference name."""
    entries = list(entries)
    formatter = HistoryFormatter(entries, PROJECT_FIELDS)
    request_ids = {e.object_id for e in entries if e.object_type == "stage_request" and e.object_id}
    requests = {}
    if request_ids:
        requests = {r.id: r for r in db.session.execute(
            select(StageRequest).where(StageRequest.id.in_(request_ids))).scalars()}
    items = []
    for e in entries:
        item = formatter.item(e)
        req = requests.get(e.object_id) if e.object_type == "stage_request" else None
        changes = e.changes or {}
        if e.action == "stage_request.create":
            item.kind = "request"
            item.title = _("申请：%(a)s → %(b)s", a=_stage(changes.get("from")), b=_stage(changes.get("to")))
            if req is not None:
                item.title += _("（%(kind)s）", kind=MOVE_LABELS.get(req.kind, req.kind))
            when = Line(move_date_label(req.kind if req else "advance"), formatter.show("actual_date", changes.get("actual_date")))
            item.lines = [when, *formatter.lines(e, skip=("from", "to", "actual_date"))]
        elif e.action in _DECISIONS:
            item.kind = "decision rejected" if e.action == "stage_request.reject" else "decision"
            if req is not None:
                item.title += _("：%(a)s → %(b)s", a=_stage(req.from_stage), b=_stage(req.to_stage))
            item.lines = formatter.lines(e, skip=("status",))
        elif e.action == "project.stage":
            item.kind = "stage"
            before, after = _pair(changes.get("stage"))
            item.title = _("阶段变更：%(a)s → %(b)s", a=_stage(before), b=_stage(after))
            item.lines = formatter.lines(e, skip=("stage",))
        elif e.action in ("project.update", "project.archive", "project.restore"):
            item.kind = "edit"
        elif e.action == "milestone.plan":
            item.kind = "plan"
        elif e.action.startswith("attachment."):
            item.note = _attachment_name(changes)
        items.append(item)
    return _merge_approvals(items)


def _stage(code: Any) -> str:
    return display_value(code, "stage")


def _pair(value: Any) -> tuple[Any, Any]:
    return (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else (None, None)


def _attachment_name(changes: dict[str, Any]) -> str:
    name = changes.get("original_name") or changes.get("name")
    if isinstance(name, list):
        name = name[-1] or name[0]
    return str(name) if name else ""


def _merge_approvals(items: list[HistoryItem]) -> list[HistoryItem]:
    """An approval and the stage change it caused are written as two audit entries (the
    decision, then the project); on the timeline they read as one event."""
    merged: list[HistoryItem] = []
    for item in items:  # newest first: the stage change comes just before its approval
        prev = merged[-1] if merged else None
        # Written in one transaction, one after the other: adjacent ids (the chain is serial).
        if (prev is not None and item.entry.action == "stage_request.approve" and prev.kind == "stage"
                and prev.entry.id == item.entry.id + 1 and prev.entry.actor_id == item.entry.actor_id):
            before, after = _pair((prev.entry.changes or {}).get("stage"))
            prev.title = _("批准并变更阶段：%(a)s → %(b)s", a=_stage(before), b=_stage(after))
            prev.lines = item.lines + prev.lines
            continue
        merged.append(item)
    return merged
