"""What the project page shows about lights, days in stage and the stage history.

``project_progress(project)`` is a Jinja global (registered by ``tracker.progress.views``)
behind ``templates/progress/_project_progress.html``: one query, whatever the length of the
history (the events with their actors' names, joined).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select

from tracker.auth.models import User
from tracker.core import formatting
from tracker.core.db import built_once, column_rows
from tracker.core.translations import lazy_gettext as _l
from tracker.extensions import db
from tracker.progress import lights
from tracker.progress.models import StageEvent
from tracker.workflow.stages import MOVE_LABELS, label

KIND_LABELS: dict[str, Any] = {
    **MOVE_LABELS,
    "create": _l("登记"),
    "backfill": _l("补录"),
}

# Why a project that cannot be late shows no light.
NOT_LIT_REASONS: dict[str, Any] = {
    "paused": _l("暂缓中的项目不亮灯"),
    "terminated": _l("已终止的项目不亮灯"),
    "full_capacity": _l("已达产，不再亮灯"),
}


@dataclass(frozen=True)
class HistoryRow:
    effective_on: date
    kind: str
    kind_label: str
    from_stage: str | None
    from_label: str
    to_stage: str
    to_label: str
    actor: str
    is_correction: bool


def today() -> date:
    return formatting.today_local()


def light_of(due_on: date | None, red_on: date | None, stage: str, archived: bool = False,
             on: date | None = None) -> lights.Light:
    """The light of a project (or a list row) today."""
    return lights.light(due_on, red_on, on or today(), stage=stage, archived=archived)


def not_lit_reason(stage: str, archived: bool) -> str:
    if archived:
        return str(_l("已归档的项目不亮灯"))
    reason = NOT_LIT_REASONS.get(stage)
    return str(reason) if reason else ""


_history_of = built_once(lambda: (
    select(StageEvent.effective_on, StageEvent.kind, StageEvent.from_stage, StageEvent.to_stage, User.display_name)
    .outerjoin(User, User.id == StageEvent.actor_id)
    .where(StageEvent.project_id == bindparam("project_id"))
    .order_by(StageEvent.effective_on, StageEvent.id)))


def history_rows(project_id: int) -> list[HistoryRow]:
    """The project's stage events, oldest first, with who made them (one query)."""
    # Columns, not events: the card only shows them (no ORM object to build per event).
    rows = column_rows(db.session, _history_of(), {"project_id": project_id})
    out = []
    for event in rows:
        actor = event.display_name
        out.append(HistoryRow(
            effective_on=event.effective_on, kind=event.kind,
            kind_label=str(KIND_LABELS.get(event.kind, event.kind)),
            from_stage=event.from_stage, from_label=label(event.from_stage) if event.from_stage else "",
            to_stage=event.to_stage, to_label=label(event.to_stage),
            actor=actor or "", is_correction=event.kind == "back",
        ))
    return out


def project_progress(project: Any) -> dict[str, Any]:
    """Everything the project page's 进度与亮灯 card shows."""
    now = today()
    archived = bool(project.is_archived)
    lamp = light_of(project.due_on, project.red_on, project.stage, archived, now)
    since = project.stage_since
    nxt = lights.next_stage(project.stage)
    return {
        "light": lamp,
        "colour": lamp.colour,
        "days_late": lamp.days_late,
        "due_on": project.due_on,
        "red_on": project.red_on,
        "next_label": label(nxt) if nxt else "",
        "not_lit_reason": not_lit_reason(project.stage, archived),
        "stage_since": since,
        "days_in_stage": (now - since).days if since is not None and since <= now else None,
        "history": history_rows(project.id),
        "today": now,
    }
