"""Changing the stage deadlines (reference data an admin edits). Nothing here commits.

One form saves every stage's yellow/red months at once. Each row carries the version it
was read at; a row that changed meanwhile makes the whole save stale (409, nothing
written), so two admins never overwrite each other's numbers silently. Every changed stage
is audited and the lights of every project in that stage are recomputed at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tracker.audit.operations import record
from tracker.core.input import InputError, Problem, parse_integer
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.progress import lights
from tracker.progress.models import DEFAULT_DEADLINES, StageDeadline

# The stages that have a deadline, in main-line order (在谈 … 已投产; 已达产 is the end).
DEADLINE_STAGES: tuple[str, ...] = tuple(DEFAULT_DEADLINES)
MAX_MONTHS = 120


class StaleDeadlines(Exception):
    """Some stage's deadline changed since the form was read."""

    def __init__(self, stages: list[str]):
        super().__init__(", ".join(stages))
        self.stages = stages


@dataclass(frozen=True)
class DeadlineInput:
    stage: str
    yellow: int
    red: int
    version: int | None


class _AuditTarget:
    """What ``audit.record`` files a deadline change under: the table, no integer id (the
    stage code, the row's key, is in the recorded changes)."""

    __tablename__ = StageDeadline.__tablename__
    id = None


def current() -> dict[str, StageDeadline]:
    rows = db.session.execute(select(StageDeadline)).scalars()
    return {r.stage: r for r in rows}


def parse_deadlines(form: Any) -> list[DeadlineInput]:
    """The posted months of every stage (fields ``yellow_<stage>``, ``red_<stage>``,
    ``version_<stage>``), or InputError naming each bad field."""
    errors: dict[str, str] = {}
    out: list[DeadlineInput] = []
    for stage in DEADLINE_STAGES:
        values: dict[str, int] = {}
        for key, minimum in (("yellow", 1), ("red", 1)):
            name = f"{key}_{stage}"
            raw = form.get(name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                errors[name] = _("请填写月数。")
                continue
            try:
                values[key] = parse_integer(raw, minimum=minimum, maximum=MAX_MONTHS)
            except Problem as problem:
                errors[name] = str(problem)
        if "yellow" in values and "red" in values and values["red"] < values["yellow"]:
            errors[f"red_{stage}"] = _("红灯期限不能短于黄灯期限（%(n)d 个月）。", n=values["yellow"])
        raw_version = form.get(f"version_{stage}")
        try:
            version = parse_integer(raw_version, minimum=1) if raw_version not in (None, "") else None
        except Problem:
            version = -1  # matches no row: the save is refused as stale
        if len(values) == 2:
            out.append(DeadlineInput(stage, values["yellow"], values["red"], version))
    if errors:
        raise InputError(errors)
    return out


def update_deadlines(actor: Any, inputs: list[DeadlineInput]) -> list[str]:
    """Save the months; returns the stages that changed (audited, lights recomputed).
    Raises StaleDeadlines (nothing written) when a row changed since it was read."""
    rows = {r.stage: r for r in db.session.execute(
        select(StageDeadline).where(StageDeadline.stage.in_([i.stage for i in inputs]))
        .with_for_update()).scalars()}
    stale = [i.stage for i in inputs
             if (i.stage in rows and i.version != rows[i.stage].version_id)
             or (i.stage not in rows and i.version is not None)]
    if stale:
        raise StaleDeadlines(stale)
    changed: list[str] = []
    for item in inputs:
        row = rows.get(item.stage)
        if row is None:  # a stage without its row (not seeded): created with the input
            row = StageDeadline(stage=item.stage, yellow_months=item.yellow, red_months=item.red)
            db.session.add(row)
            record(actor, "stage_deadline.create", _AuditTarget(),
                   {"stage": item.stage, "yellow_months": item.yellow, "red_months": item.red})
            changed.append(item.stage)
            continue
        if (row.yellow_months, row.red_months) == (item.yellow, item.red):
            continue
        changes: dict[str, Any] = {"stage": item.stage}
        if row.yellow_months != item.yellow:
            changes["yellow_months"] = [row.yellow_months, item.yellow]
        if row.red_months != item.red:
            changes["red_months"] = [row.red_months, item.red]
        row.yellow_months, row.red_months = item.yellow, item.red
        record(actor, "stage_deadline.update", _AuditTarget(), changes)
        changed.append(item.stage)
    if changed:
        db.session.flush()  # the version check happens here; refresh reads the new months
        for stage in changed:
            lights.refresh(db.session, stage=stage)
    return changed
