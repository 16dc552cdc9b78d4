"""Ceremony changes: create/edit/delete a ceremony, add/remove/reorder its projects and set
their signatories. Every change is audited; nothing here commits.

These functions are the whole write API of ceremonies: the screens call them and the JSON API
(``POST /api/v1/ceremonies`` → ``create_ceremony``, ``PUT /api/v1/ceremonies/{id}/projects``
→ ``set_projects``) can call them as they are. They check the actor's unit scope themselves
(a county office touches only its own ceremonies and projects; the city any), because an API
caller names records by id. Role checks (``ceremony.manage``) stay with the caller, as for
every operation.

Concurrency: a ceremony carries ``version_id`` (SQLAlchemy ``version_id_col``). Changes to
its projects also "touch" the ceremony row, so its version moves with every change; callers
pass the version their form or request was based on and get ``StaleCeremony`` when someone
saved in between.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from tracker.audit.operations import record
from tracker.auth.models import Unit
from tracker.ceremonies.models import Ceremony, CeremonySigning
from tracker.core.db import utcnow
from tracker.core.permissions import in_scope
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.models import Project

MAX_PROJECTS = 100  # per ceremony; the booklet lays out at most this many briefs (and a longer
# list is refused before any work, so a huge API request costs nothing)
NAME_MAX = 120
VENUE_MAX = 120
SIGNATORY_MAX = 60


MAX_ID = 2**31 - 1  # primary keys are 32-bit integers


class CeremonyError(ValueError):
    """Invalid input that needs the database: {field: message} ('' = the whole form)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class StaleCeremony(Exception):
    """The ceremony changed since the form (or API request) was based on it."""


# --- helpers ------------------------------------------------------------------------------

def _check_version(ceremony: Ceremony, expected: int | None) -> None:
    """``expected``: the version the user saw (screens always send one; a form that lost it
    passes -1, which is stale), or None from callers that change the ceremony whatever its
    version (seed, command line, an API call without ``version``)."""
    if expected is not None and ceremony.version_id != expected:
        raise StaleCeremony()


def _touch(ceremony: Ceremony) -> None:
    """Update the ceremony row so its version moves with changes to its projects."""
    ceremony.updated_at = utcnow()


def _clean(value: Any) -> str:
    return ("" if value is None else str(value)).replace("\x00", "").strip()


def _name_taken(name: str, unit_id: int, exclude_id: int | None) -> bool:
    """Names are unique per host unit: other units' ceremony names are never revealed."""
    q = select(Ceremony.id).where(Ceremony.unit_id == unit_id, func.lower(Ceremony.name) == name.lower())
    if exclude_id is not None:
        q = q.where(Ceremony.id != exclude_id)
    return db.session.execute(q.limit(1)).first() is not None


def _validate(actor, values: dict[str, Any], exclude_id: int | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = _clean(values.get("name"))
    venue = _clean(values.get("venue"))
    held_on = values.get("held_on")
    unit = values.get("unit")
    if not name:
        errors["name"] = _("请填写签约仪式名称。")
    elif len(name) > NAME_MAX:
        errors["name"] = _("名称不能超过 %(n)d 个字。", n=NAME_MAX)
    if not isinstance(held_on, date):
        errors["held_on"] = _("请填写举办日期。")
    if len(venue) > VENUE_MAX:
        errors["venue"] = _("地点不能超过 %(n)d 个字。", n=VENUE_MAX)
    if not isinstance(unit, Unit):
        errors["unit"] = _("请选择主办单位。")
    elif actor is not None and not in_scope(actor, unit.id):
        errors["unit"] = _("只能为本单位举办签约仪式。")
    elif "name" not in errors and _name_taken(name, unit.id, exclude_id):
        errors["name"] = _("主办单位已存在同名的签约仪式。")
    if errors:
        raise CeremonyError(errors)
    return {"name": name, "held_on": held_on, "venue": venue, "unit": unit}


def _renumber(ceremony: Ceremony, ordered: list[CeremonySigning]) -> None:
    for position, signing in enumerate(ordered, start=1):
        if signing.position != position:
            signing.position = position


def signings_of(ceremony: Ceremony) -> list[CeremonySigning]:
    return sorted(ceremony.signings, key=lambda s: (s.position, s.id or 0))


def signing_elsewhere(project_id: int, ceremony: Ceremony | None = None) -> CeremonySigning | None:
    q = select(CeremonySigning).where(CeremonySigning.project_id == project_id)
    if ceremony is not None and ceremony.id is not None:
        q = q.where(CeremonySigning.ceremony_id != ceremony.id)
    return db.session.execute(q).scalar_one_or_none()


def project_problem(actor, ceremony: Ceremony, project: Project | None) -> str | None:
    """Why ``project`` cannot be signed at ``ceremony`` (None when it can)."""
    other = signing_elsewhere(project.id, ceremony) if project is not None else None
    return _problem(actor, ceremony, project, other)


def _problem(actor, ceremony: Ceremony, project: Project | None, other: CeremonySigning | None) -> str | None:
    """``project_problem`` given the project's signing at another ceremony (``other``)."""
    if project is None or (actor is not None and not in_scope(actor, project.unit_id)):
        return _("找不到该项目，或不在您的权限范围内。")
    if not ceremony.unit.is_city and project.unit_id != ceremony.unit_id:
        return _("区县签约仪式只能加入本单位的项目（%(name)s 属于 %(unit)s）。",
                 name=project.name, unit=project.unit.name)
    if project.is_archived:
        return _("项目“%(name)s”已归档，不能加入签约仪式。", name=project.name)
    if other is not None:
        return _("项目“%(name)s”已在“%(ceremony)s”签约（一个项目只计一次签约）。",
                 name=project.name, ceremony=other.ceremony.name)
    return None


def eligible_projects_query(actor, ceremony: Ceremony):
    """Projects that may still be added to ``ceremony`` by ``actor`` (for a picker)."""
    signed = select(CeremonySigning.project_id)
    q = select(Project).where(Project.is_archived.is_(False), Project.id.not_in(signed))
    if not actor.is_city:
        q = q.where(Project.unit_id == actor.unit_id)
    if not ceremony.unit.is_city:
        q = q.where(Project.unit_id == ceremony.unit_id)
    return q.order_by(Project.unit_id, Project.signed_on.desc().nulls_last(), Project.name)


# --- ceremony ---------------------------------------------------------------------------

def create_ceremony(actor, *, name: str, held_on: date, venue: str = "", unit: Unit) -> Ceremony:
    """A new ceremony (API: ``POST /api/v1/ceremonies`` with name, date, venue, unit)."""
    clean = _validate(actor, {"name": name, "held_on": held_on, "venue": venue, "unit": unit}, None)
    ceremony = Ceremony(name=clean["name"], held_on=clean["held_on"], venue=clean["venue"],
                        unit=clean["unit"])
    db.session.add(ceremony)
    db.session.flush()
    record(actor, "ceremony.create", ceremony, {
        "name": ceremony.name, "held_on": ceremony.held_on, "venue": ceremony.venue,
        "unit": clean["unit"].name,
    })
    return ceremony


def update_ceremony(actor, ceremony: Ceremony, *, name: str, held_on: date, venue: str, unit: Unit,
                    expected_version: int | None) -> dict[str, list]:
    _check_version(ceremony, expected_version)
    clean = _validate(actor, {"name": name, "held_on": held_on, "venue": venue, "unit": unit}, ceremony.id)
    if clean["unit"].id != ceremony.unit_id and not clean["unit"].is_city:
        foreign = [s.project.name for s in ceremony.signings if s.project.unit_id != clean["unit"].id]
        if foreign:
            raise CeremonyError({"unit": _(
                "仪式中已有其他单位的项目（如“%(name)s”），不能改为区县主办。", name=foreign[0])})
    changes: dict[str, list] = {}
    for key in ("name", "held_on", "venue"):
        if getattr(ceremony, key) != clean[key]:
            changes[key] = [getattr(ceremony, key), clean[key]]
            setattr(ceremony, key, clean[key])
    if clean["unit"].id != ceremony.unit_id:
        changes["unit"] = [ceremony.unit.name, clean["unit"].name]
        ceremony.unit = clean["unit"]
    if changes:
        _touch(ceremony)
        db.session.flush()
        record(actor, "ceremony.update", ceremony, changes)
    return changes


def delete_ceremony(actor, ceremony: Ceremony, *, expected_version: int | None = None) -> None:
    """Delete an empty ceremony (remove its projects first: a signing is a fact others count)."""
    _check_version(ceremony, expected_version)
    if ceremony.signings:
        raise CeremonyError({"": _("请先移除该仪式的全部签约项目，再删除仪式。")})
    record(actor, "ceremony.delete", ceremony, {"name": ceremony.name, "held_on": ceremony.held_on})
    db.session.delete(ceremony)
    db.session.flush()


# --- its projects --------------------------------------------------------------------

MAX_ROUNDS = 20  # signing rounds (批次) per ceremony
WITNESSES_MAX = 200  # characters of one round's witnesses line
SIGNATORY_FIELDS = ("signatory_local", "signatory_local_title", "signatory_investor",
                    "signatory_investor_title")


def _signatories(values: dict[str, Any]) -> dict[str, Any]:
    """The signatories, their titles (职务) and the signing round, cleaned and checked."""
    out: dict[str, Any] = {}
    errors = {}
    for key in SIGNATORY_FIELDS:
        out[key] = _clean(values.get(key))
        if len(out[key]) > SIGNATORY_MAX:
            errors[key] = (_("职务不能超过 %(n)d 个字。", n=SIGNATORY_MAX) if key.endswith("_title")
                           else _("签约人不能超过 %(n)d 个字。", n=SIGNATORY_MAX))
    round_no = values.get("round_no")
    round_no = 1 if round_no in (None, "") else round_no
    if not isinstance(round_no, int) or isinstance(round_no, bool) or not 1 <= round_no <= MAX_ROUNDS:
        errors["round_no"] = _("签约批次应为 1 至 %(n)d 的整数。", n=MAX_ROUNDS)
    out["round_no"] = round_no
    if errors:
        raise CeremonyError(errors)
    return out


def add_project(actor, ceremony: Ceremony, project: Project | None, *,
                expected_version: int | None = None, **signatories: Any) -> CeremonySigning:
    """Sign ``project`` at ``ceremony``, last in the signing order. ``signatories``: the
    SIGNATORY_FIELDS and ``round_no`` (all optional)."""
    _check_version(ceremony, expected_version)
    problem = project_problem(actor, ceremony, project)
    if problem:
        raise CeremonyError({"project_id": problem})
    ordered = signings_of(ceremony)
    if any(s.project_id == project.id for s in ordered):
        raise CeremonyError({"project_id": _("该项目已在本次仪式中。")})
    if len(ordered) >= MAX_PROJECTS:
        raise CeremonyError({"project_id": _("一场签约仪式最多 %(n)d 个项目。", n=MAX_PROJECTS)})
    values = _signatories(signatories)
    signing = CeremonySigning(project=project, position=len(ordered) + 1, **values)
    ceremony.signings.append(signing)
    _touch(ceremony)
    db.session.flush()
    record(actor, "ceremony.add_project", ceremony, {
        "project": project.name, "position": signing.position,
        **{k: v for k, v in values.items() if v not in ("", 1)},
    }, project_id=project.id)
    return signing


def remove_project(actor, ceremony: Ceremony, signing: CeremonySigning, *,
                   expected_version: int | None = None) -> None:
    _check_version(ceremony, expected_version)
    if signing.ceremony_id != ceremony.id:
        raise CeremonyError({"": _("该项目不在本次仪式中。")})
    project = signing.project
    ceremony.signings.remove(signing)
    db.session.delete(signing)
    _renumber(ceremony, signings_of(ceremony))
    _touch(ceremony)
    db.session.flush()
    record(actor, "ceremony.remove_project", ceremony, {"project": project.name}, project_id=project.id)


def update_signatories(actor, ceremony: Ceremony, signing: CeremonySigning, *,
                       expected_version: int | None = None, **signatories: Any) -> dict[str, list]:
    """Change a signing's signatories, titles and round (keys as in ``add_project``)."""
    _check_version(ceremony, expected_version)
    if signing.ceremony_id != ceremony.id:
        raise CeremonyError({"": _("该项目不在本次仪式中。")})
    values = _signatories(signatories)
    changes = {}
    for key, value in values.items():
        if getattr(signing, key) != value:
            changes[key] = [getattr(signing, key), value]
            setattr(signing, key, value)
    if changes:
        _touch(ceremony)
        db.session.flush()
        record(actor, "ceremony.update_signatories", ceremony,
               {"project": signing.project.name, **changes}, project_id=signing.project_id)
    return changes


def set_round_witnesses(actor, ceremony: Ceremony, witnesses: list[str], *,
                        expected_version: int | None = None) -> bool:
    """The witnessing leaders of each round (item 0: round 1). Trailing empty rounds dropped."""
    _check_version(ceremony, expected_version)
    lines = [" ".join(str(w or "").split()) for w in witnesses]
    if len(lines) > MAX_ROUNDS:
        raise CeremonyError({"round_witnesses": _("最多 %(n)d 个签约批次。", n=MAX_ROUNDS)})
    too_long = [i for i, line in enumerate(lines, start=1) if len(line) > WITNESSES_MAX]
    if too_long:
        raise CeremonyError({"round_witnesses": _("第 %(r)d 批的见证领导不能超过 %(n)d 个字。",
                                                  r=too_long[0], n=WITNESSES_MAX)})
    while lines and not lines[-1]:
        lines.pop()
    text = "\n".join(lines)
    if text == (ceremony.round_witnesses or ""):
        return False
    record(actor, "ceremony.update", ceremony, {"round_witnesses": [ceremony.round_witnesses or "", text]})
    ceremony.round_witnesses = text
    _touch(ceremony)
    db.session.flush()
    return True


def move_project(actor, ceremony: Ceremony, signing: CeremonySigning, step: int, *,
                 expected_version: int | None = None) -> bool:
    """Move one project up (step -1) or down (+1) in the signing order."""
    ordered = signings_of(ceremony)
    if signing not in ordered:
        raise CeremonyError({"": _("该项目不在本次仪式中。")})
    index = ordered.index(signing)
    target = index + (1 if step > 0 else -1)
    if not 0 <= target < len(ordered):
        return False
    ordered[index], ordered[target] = ordered[target], ordered[index]
    return _apply_order(actor, ceremony, ordered, expected_version)


def reorder(actor, ceremony: Ceremony, signing_ids: Iterable[int], *,
            expected_version: int | None = None) -> bool:
    """Put the ceremony's projects in the order of ``signing_ids`` (all of them, once each)."""
    ordered = signings_of(ceremony)
    by_id = {s.id: s for s in ordered}
    ids = list(signing_ids)
    if sorted(ids) != sorted(by_id):
        raise CeremonyError({"": _("顺序表与当前项目不一致，请刷新页面后重试。")})
    return _apply_order(actor, ceremony, [by_id[i] for i in ids], expected_version)


def _apply_order(actor, ceremony: Ceremony, ordered: list[CeremonySigning],
                 expected_version: int | None) -> bool:
    _check_version(ceremony, expected_version)
    before = [s.project_id for s in signings_of(ceremony)]
    after = [s.project_id for s in ordered]
    if before == after:
        return False
    _renumber(ceremony, ordered)
    _touch(ceremony)
    db.session.flush()
    record(actor, "ceremony.reorder", ceremony, {"order": [before, after]})
    return True


def set_projects(actor, ceremony: Ceremony, project_ids: Iterable[Any], *,
                 expected_version: int | None = None) -> list[CeremonySigning]:
    """Make the ceremony's projects exactly ``project_ids``, in that signing order
    (API: ``PUT /api/v1/ceremonies/{id}/projects``). Projects kept keep their signatories;
    new ones start without; those left out are removed. All-or-nothing: any bad id fails the
    whole call with a message naming it."""
    _check_version(ceremony, expected_version)
    requested = list(project_ids)
    if len(requested) > MAX_PROJECTS:  # refused before any work: the cost stays bounded
        raise CeremonyError({"project_ids": _("一场签约仪式最多 %(n)d 个项目（本次提交了 %(m)d 个）。",
                                              n=MAX_PROJECTS, m=len(requested))})
    ids: list[int] = []
    seen: set[int] = set()
    problems: list[str] = []
    for raw in requested:
        if isinstance(raw, bool) or not isinstance(raw, int):
            problems.append(_("项目编号必须是整数：%(v)s", v=str(raw)[:20]))
        elif raw in seen:
            problems.append(_("项目 %(id)d 重复出现。", id=raw))
        elif not 0 < raw <= MAX_ID:  # never sent to the database: PostgreSQL would reject it
            problems.append(f"{raw}: {_problem(actor, ceremony, None, None)}")
        else:
            seen.add(raw)
            ids.append(raw)
    current = {s.project_id: s for s in ceremony.signings}
    new_ids = [pid for pid in ids if pid not in current]
    # Two queries however long the list (at most 2 × MAX_PROJECTS ids, far below any driver's
    # parameter limit): the projects named or signed now, and their signings elsewhere.
    wanted = seen | set(current)
    projects = {p.id: p for p in db.session.execute(
        select(Project).options(joinedload(Project.unit)).where(Project.id.in_(wanted))).scalars()} if wanted else {}
    elsewhere = {s.project_id: s for s in db.session.execute(
        select(CeremonySigning).options(joinedload(CeremonySigning.ceremony))
        .where(CeremonySigning.project_id.in_(new_ids), CeremonySigning.ceremony_id != ceremony.id)
    ).scalars()} if new_ids else {}
    for pid in new_ids:
        problem = _problem(actor, ceremony, projects.get(pid), elsewhere.get(pid))
        if problem:
            problems.append(f"{pid}: {problem}")
    if problems:
        raise CeremonyError({"project_ids": " ".join(problems)})

    before = [s.project_id for s in signings_of(ceremony)]
    removed = []
    for pid, signing in list(current.items()):
        if pid not in seen:
            removed.append(projects[pid])
            ceremony.signings.remove(signing)
            db.session.delete(signing)
    ordered, added = [], []
    for pid in ids:  # new signings are appended (O(1) each), then numbered once
        signing = current.get(pid)
        if signing is None:
            signing = CeremonySigning(project=projects[pid], position=0)
            ceremony.signings.append(signing)
            added.append(projects[pid])
        ordered.append(signing)
    _renumber(ceremony, ordered)
    if before != ids:
        _touch(ceremony)
        db.session.flush()
        record(actor, "ceremony.set_projects", ceremony, {"projects": [before, ids]})
        # One entry per project too, so each project's timeline shows its signing.
        for project in removed:
            record(actor, "ceremony.remove_project", ceremony, {"project": project.name}, project_id=project.id)
        for project in added:
            record(actor, "ceremony.add_project", ceremony, {"project": project.name}, project_id=project.id)
    return ordered
