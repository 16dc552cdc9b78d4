"""The stage history: one ``StageEvent`` per stage change, written by the operations that
change a stage (project creation, an approved request), and rebuilt once from what existed
before the history was kept (``backfill``). Nothing here commits.

Also keeps ``Project.stage_since``: the day the project's current stage began, which the
lights count from. A correction back does not restart the clock (the project has been at
the target stage since that stage's actual date); a pause stops it and a resume restarts it
where it stopped.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.core.db import UTCDateTime
from tracker.workflow.stages import MAIN_CODES


def counts_as(to_stage: str, from_stage: str | None, paused_from: str | None = None) -> str:
    """The stage the rates count a project at once it is at ``to_stage``: a paused project
    at the stage it was paused from, a terminated one as signed only (``terminated``)."""
    if to_stage == "paused":
        return paused_from or from_stage or "signed"
    if to_stage == "terminated":
        return "terminated"
    return to_stage


def next_stage_since(*, kind: str, effective_on: date, current_since: date | None,
                     target_actual_on: date | None = None, paused_on: date | None = None) -> date:
    """``stage_since`` after a move of ``kind`` taking effect on ``effective_on``."""
    if kind == "back" and target_actual_on is not None:
        return target_actual_on  # the project has been at that stage since it was reached
    if kind == "pause":
        return current_since or effective_on  # kept; the resume shifts it by the pause
    if kind == "resume" and current_since is not None and paused_on is not None:
        return current_since + max(timedelta(0), effective_on - paused_on)
    return effective_on


# --- Recording (live) ---------------------------------------------------------------------

def record_move(project: Any, *, kind: str, from_stage: str | None, to_stage: str, effective_on: date,
                request_id: int | None = None, actor_id: int | None = None) -> None:
    """Write the event for a stage change the caller has just applied to ``project`` and
    move ``project.stage_since`` on. Call after ``project.stage`` (and for a pause
    ``paused_from_stage``) are set."""
    from tracker.extensions import db
    from tracker.progress.models import StageEvent
    from tracker.workflow.models import Milestone

    target_actual = paused_on = None
    # No autoflush: the caller's pending changes to the project and the new stage_since go
    # out in one UPDATE (one version bump per move).
    with db.session.no_autoflush:
        if kind == "back":
            target_actual = db.session.execute(sa.select(Milestone.actual_on).where(
                Milestone.project_id == project.id, Milestone.stage == to_stage)).scalar_one_or_none()
            if to_stage == "signed":
                target_actual = project.signed_on
        elif kind == "resume":
            paused_on = db.session.execute(
                sa.select(StageEvent.effective_on).where(StageEvent.project_id == project.id,
                                                         StageEvent.to_stage == "paused")
                .order_by(StageEvent.id.desc()).limit(1)).scalar_one_or_none()
    since = next_stage_since(kind=kind, effective_on=effective_on, current_since=project.stage_since,
                             target_actual_on=target_actual, paused_on=paused_on)
    if since != project.stage_since:
        project.stage_since = since
    db.session.add(StageEvent(project_id=project.id, kind=kind, from_stage=from_stage, to_stage=to_stage,
                              counts_as=counts_as(to_stage, from_stage, project.paused_from_stage),
                              effective_on=effective_on, request_id=request_id, actor_id=actor_id))


def first_stage_since(stage: str, signed_on: date | None, today: date) -> date:
    """When a new project's stage began: its signing date, or today for one in negotiation.
    Set when the project is built, so writing its first event does not change (and
    re-version) the row just inserted."""
    return signed_on if stage != "negotiating" and signed_on else today


def record_created(projects: list[Any], actor_id: int | None, today: date) -> None:
    """New projects' first events (one INSERT): signed on the signing date, or negotiating
    from today. ``stage_since`` is set already (``first_stage_since``)."""
    from tracker.core.bulk import insert_many
    from tracker.extensions import db
    from tracker.progress.models import StageEvent

    if projects:
        insert_many(db.session, StageEvent, [
            {"project_id": p.id, "kind": "create", "from_stage": None, "to_stage": p.stage,
             "counts_as": counts_as(p.stage, None, p.paused_from_stage),
             "effective_on": first_stage_since(p.stage, p.signed_on, today), "actor_id": actor_id}
            for p in projects])


def redate_signing(project: Any, old: date | None) -> None:
    """The signing date was corrected on the project form: the history's signing moves too."""
    from tracker.extensions import db
    from tracker.progress.models import StageEvent

    if project.signed_on is None or old == project.signed_on:
        return
    db.session.execute(sa.update(StageEvent).where(
        StageEvent.project_id == project.id, StageEvent.to_stage == "signed",
        StageEvent.kind.in_(("create", "backfill"))).values(effective_on=project.signed_on)
        .execution_options(synchronize_session=False))
    if project.stage == "signed" and (project.stage_since is None or project.stage_since == old):
        project.stage_since = project.signed_on


# --- Backfill (the migration and the demo loader) -------------------------------------------
# Core tables with only the columns read or written, so the migration that calls this keeps
# working whatever later migrations add to the models.

_meta = sa.MetaData()
_project = sa.Table("project", _meta, sa.Column("id", sa.Integer), sa.Column("stage", sa.String),
                    sa.Column("signed_on", sa.Date), sa.Column("paused_from_stage", sa.String),
                    sa.Column("created_at", sa.DateTime), sa.Column("updated_at", sa.DateTime),
                    sa.Column("stage_since", sa.Date))
_request = sa.Table("stage_request", _meta, sa.Column("id", sa.Integer), sa.Column("project_id", sa.Integer),
                    sa.Column("kind", sa.String), sa.Column("from_stage", sa.String),
                    sa.Column("to_stage", sa.String), sa.Column("status", sa.String),
                    sa.Column("actual_date", sa.Date), sa.Column("decided_by_id", sa.Integer),
                    sa.Column("decided_at", sa.DateTime))
_milestone = sa.Table("milestone", _meta, sa.Column("project_id", sa.Integer), sa.Column("stage", sa.String),
                      sa.Column("actual_on", sa.Date))
_event = sa.Table("stage_event", _meta, sa.Column("id", sa.Integer), sa.Column("project_id", sa.Integer),
                  sa.Column("kind", sa.String), sa.Column("from_stage", sa.String), sa.Column("to_stage", sa.String),
                  sa.Column("counts_as", sa.String), sa.Column("effective_on", sa.Date),
                  sa.Column("request_id", sa.Integer), sa.Column("actor_id", sa.Integer),
                  sa.Column("recorded_at", UTCDateTime()))


def _day(value: Any) -> date | None:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def _history(p: Any, requests: list[Any], actual: dict[str, date]) -> list[dict[str, Any]]:
    """Events for one project: the main-line stages reached before its first approved
    request (from the milestones' actual dates), then one per approved request."""
    created = _day(p.created_at) or date.today()
    start = requests[0].from_stage if requests else p.stage
    reached = start
    if start == "paused":  # paused from: what a first resume returns to, else what is stored
        resumed_to = requests[0].to_stage if requests and requests[0].kind == "resume" else None
        reached = resumed_to or p.paused_from_stage or "signed"
    events: list[dict[str, Any]] = []
    last = created

    def add(kind: str, frm: str | None, to: str, on: date | None, request_id=None, actor_id=None,
            paused_from=None) -> None:
        nonlocal last
        on = max(on or last, last) if kind != "back" else (on or last)
        events.append(dict(kind=kind, from_stage=frm, to_stage=to, counts_as=counts_as(to, frm, paused_from),
                           effective_on=on, request_id=request_id, actor_id=actor_id))
        last = on

    if reached == "negotiating" or (reached in ("terminated",) and p.signed_on is None):
        add("create", None, "negotiating", created)
    else:
        last = p.signed_on or created
        add("create", None, "signed", p.signed_on or created)
        if reached in MAIN_CODES:
            for code in MAIN_CODES[2:MAIN_CODES.index(reached) + 1]:
                add("backfill", events[-1]["to_stage"], code, actual.get(code))
    if start in ("paused", "terminated") and not requests:
        on = _day(p.updated_at) or last
        add("backfill", events[-1]["to_stage"], start, on, paused_from=p.paused_from_stage)
    elif start == "paused":  # paused before the first request, on an unknown day
        add("backfill", events[-1]["to_stage"], "paused", last, paused_from=reached)
    for r in requests:
        add(r.kind, r.from_stage, r.to_stage, r.actual_date, r.id, r.decided_by_id,
            paused_from=r.from_stage if r.to_stage == "paused" else None)
    return events


def _since(events: list[dict[str, Any]], actual: dict[str, date], signed_on: date | None) -> date | None:
    since = pause_on = None
    for e in events:
        target = signed_on if e["to_stage"] == "signed" else actual.get(e["to_stage"])
        kind = "pause" if e["to_stage"] == "paused" else e["kind"]
        since = next_stage_since(kind=kind, effective_on=e["effective_on"], current_since=since,
                                 target_actual_on=target, paused_on=pause_on)
        if e["to_stage"] == "paused":
            pause_on = e["effective_on"]
    return since


def backfill(session: Session | Any, project_ids: list[int] | None = None, batch: int = 2000) -> int:
    """Write the stage history of projects that have none (all, or ``project_ids``) and set
    their ``stage_since``; returns how many projects were done. Idempotent."""
    from tracker.core.db import utcnow

    has_events = sa.select(_event.c.project_id).where(_event.c.project_id == _project.c.id).exists()
    q = sa.select(_project).where(~has_events).order_by(_project.c.id)
    if project_ids is not None:
        q = q.where(_project.c.id.in_(project_ids))
    done = 0
    rows = session.execute(q).all()
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        ids = [p.id for p in chunk]
        reqs: dict[int, list[Any]] = {}
        for r in session.execute(sa.select(_request).where(_request.c.project_id.in_(ids),
                                                           _request.c.status == "approved")
                                 .order_by(_request.c.decided_at, _request.c.id)):
            reqs.setdefault(r.project_id, []).append(r)
        actual: dict[int, dict[str, date]] = {}
        for m in session.execute(sa.select(_milestone).where(_milestone.c.project_id.in_(ids),
                                                             _milestone.c.actual_on.is_not(None))):
            actual.setdefault(m.project_id, {})[m.stage] = m.actual_on
        now = utcnow()
        rows_out: list[dict[str, Any]] = []
        since: list[dict[str, Any]] = []
        for p in chunk:
            events = _history(p, reqs.get(p.id, []), actual.get(p.id, {}))
            rows_out += [{**e, "project_id": p.id, "recorded_at": now} for e in events]
            since.append({"pid": p.id, "since": _since(events, actual.get(p.id, {}), p.signed_on)})
        if rows_out:
            session.execute(sa.insert(_event), rows_out)
            session.execute(sa.update(_project).where(_project.c.id == sa.bindparam("pid"))
                            .values(stage_since=sa.bindparam("since")), since)
        done += len(chunk)
    return done
