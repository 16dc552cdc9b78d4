"""The project page's stage panel: progress steps, the pending request and what the current
user may do with it, the moves they may request, and the milestones with the plan form.

Built by the project view (``projects.views.view_project``) and handed to the template, which
only renders it: templates never query.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from tracker.core.permissions import can, can_decide
from tracker.extensions import db
from tracker.projects.models import Project
from tracker.workflow import operations as wf
from tracker.workflow.display import group_moves, request_values
from tracker.workflow.forms import DecisionForm, PlannedDatesForm
from tracker.workflow.models import StageRequest
from tracker.workflow.stages import BY_CODE, MAIN_LINE, Move


@dataclass
class StagePanel:
    steps: list[dict[str, Any]]  # the main line: code, label, state (done | current | todo)
    pending: StageRequest | None
    pending_values: list[tuple[str, str]]
    can_decide: bool  # the current user may approve or reject the pending request
    is_own: bool  # … which they submitted themselves
    decide_form: DecisionForm | None
    moves: list[Move]  # what the current user may request now
    groups: list[tuple[str, str, list[Move]]]
    milestones: list[dict[str, Any]]
    can_plan: bool
    plan_form: PlannedDatesForm | None


def plan_form(milestones: list[dict[str, Any]]) -> PlannedDatesForm:
    """The planned-dates form filled with the saved dates; ``seen`` remembers what the user
    was shown, so a save can tell a date someone else changed meanwhile (409)."""
    form = PlannedDatesForm.build(formdata=None)
    for row in milestones:
        value = row["planned_on"].isoformat() if row["planned_on"] else ""
        form.planned(row["stage"]).data = value
        form.seen(row["stage"]).data = value
    return form


def _steps(project: Project) -> list[dict[str, Any]]:
    current = BY_CODE[project.stage].order if project.stage in BY_CODE else -1
    if project.stage == "paused" and project.paused_from_stage in BY_CODE:
        current = BY_CODE[project.paused_from_stage].order
    return [
        {"code": s.code, "label": s.label,
         "state": "done" if s.order < current else ("current" if s.order == current else "todo")}
        for s in MAIN_LINE if s.code != "negotiating" or project.stage == "negotiating"
    ]


def stage_panel(user, project: Project) -> StagePanel:
    """What the stage panel shows ``user`` for ``project``."""
    pending = db.session.execute(
        select(StageRequest)
        .options(joinedload(StageRequest.requested_by), selectinload(StageRequest.attachments))
        .where(StageRequest.project_id == project.id, StageRequest.status == "pending")
    ).scalar_one_or_none() if project.has_pending else None
    moves = wf.allowed_moves(user, project)
    milestones = wf.milestones(project)
    can_plan = can("milestone.edit", project, user) and not project.is_archived
    return StagePanel(
        steps=_steps(project),
        pending=pending,
        pending_values=request_values(pending) if pending else [],
        can_decide=bool(pending and can_decide(pending, user)),
        is_own=bool(pending and pending.requested_by_id == user.id),
        decide_form=DecisionForm(formdata=None) if pending else None,
        moves=moves,
        groups=group_moves(moves),
        milestones=milestones,
        can_plan=can_plan,
        plan_form=plan_form(milestones) if can_plan else None,
    )
