"""The project lifecycle: the one place that names the stages and the allowed moves.

Every screen, the API, the database CHECK constraint, the tests and the docs read this
module. A *move* takes a project from one state to another; it is requested by staff (or a
manager) and takes effect only when a manager — never the requester — approves it.

Kinds of move:
- advance   the next stage on the main line (在谈 → 已签约 → 已注册 → … → 已达产)
- skip      a later stage beyond the next (e.g. rented plant: 已注册 → 已开工 without land);
            needs a written reason
- back      an earlier stage (a correction); needs a written reason
- pause     any main-line stage → 暂缓 with a reason and an expected resume date
- resume    暂缓 → the stage it was paused at, with a reason
- terminate any live state → 终止 with a reason (counts as lost)
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tracker.core.translations import lazy_gettext as _l


@dataclass(frozen=True)
class Stage:
    code: str
    label: object  # lazy gettext string
    english: str  # the one English name: the .po translation of ``label`` and the bilingual brief use it
    order: int  # position on the main line; side states have -1
    is_side: bool = False
    css: str = ""


STAGES: tuple[Stage, ...] = (
    Stage("negotiating", _l("在谈"), "Under negotiation", 0, css="st-neg"),
    Stage("signed", _l("已签约"), "Signed", 1, css="st-signed"),
    Stage("registered", _l("已注册"), "Company registered", 2, css="st-reg"),
    Stage("land_secured", _l("已供地"), "Land secured", 3, css="st-land"),
    Stage("construction", _l("已开工"), "Construction started", 4, css="st-build"),
    Stage("completed", _l("已竣工"), "Construction completed", 5, css="st-done"),
    Stage("production", _l("已投产"), "In production", 6, css="st-prod"),
    Stage("full_capacity", _l("已达产"), "At full capacity", 7, css="st-full"),
    Stage("paused", _l("暂缓"), "Paused", -1, is_side=True, css="st-paused"),
    Stage("terminated", _l("终止"), "Terminated", -1, is_side=True, css="st-term"),
)

BY_CODE: dict[str, Stage] = {s.code: s for s in STAGES}
CODES: tuple[str, ...] = tuple(s.code for s in STAGES)
MAIN_LINE: tuple[Stage, ...] = tuple(s for s in STAGES if not s.is_side)
MAIN_CODES: tuple[str, ...] = tuple(s.code for s in MAIN_LINE)
# Stages a new project may be created in (later stages are reached through the workflow).
INITIAL_CODES: tuple[str, ...] = ("negotiating", "signed")
# Stages that carry a milestone (planned date from the agreement, actual date on approval).
MILESTONE_CODES: tuple[str, ...] = MAIN_CODES[1:]


def label(code: str) -> str:
    stage = BY_CODE.get(code)
    return str(stage.label) if stage else code


def before(code: str) -> tuple[str, ...]:
    """Main-line stage codes before ``code``."""
    return MAIN_CODES[:BY_CODE[code].order]


def after(code: str) -> tuple[str, ...]:
    """Main-line stage codes after ``code`` (what a correction back to ``code`` undoes)."""
    return MAIN_CODES[BY_CODE[code].order + 1:]


def at_or_after(code: str) -> tuple[str, ...]:
    """Main-line stage codes at or after ``code`` (used by the rates)."""
    start = BY_CODE[code].order
    return tuple(s.code for s in MAIN_LINE if s.order >= start)


# --- What reaching a state requires ----------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """A value a request must carry. ``kind`` picks the validator and the input widget."""

    key: str
    label: object
    kind: str  # text | uscc | amount | area | date
    project_field: str | None = None  # copied onto the project on approval
    # A correction back before this stage clears the field (the stage did not really happen),
    # unless the value also has another source (the land area is in the signed agreement).
    kept_on_correction: bool = False


MAX_LAND_MU = Decimal("100000")  # 亩: the largest plausible land area of one project

REASON = Requirement("reason", _l("理由"), "text")
RESUME_ON = Requirement("expected_resume_on", _l("预计恢复日期"), "date", "expected_resume_on")

# Target stage → values the request must carry (besides the actual date).
STAGE_REQUIREMENTS: dict[str, tuple[Requirement, ...]] = {
    "negotiating": (),
    "signed": (),
    "registered": (
        Requirement("company_uscc", _l("项目公司统一社会信用代码"), "uscc", "company_uscc"),
        Requirement("registered_capital", _l("注册资本（万元）"), "amount", "registered_capital"),
    ),
    "land_secured": (
        Requirement("land_area_mu", _l("供地面积（亩）"), "area", "land_area_mu", kept_on_correction=True),
        Requirement("land_certificate_no", _l("土地出让合同或不动产权证号"), "text", "land_certificate_no"),
    ),
    "construction": (
        Requirement("construction_permit_no", _l("施工许可证号"), "text", "construction_permit_no"),
    ),
    "completed": (),
    "production": (),
    "full_capacity": (
        Requirement("annual_output", _l("达产年产值（万元）"), "amount", "annual_output"),
    ),
}


# --- The moves ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Move:
    """One allowed move. Who may request and who may decide it is not here but in the
    permission rules (``stage.request``, ``stage.decide`` in ``tracker.core.permissions``),
    the one place for every role rule."""

    kind: str
    from_stage: str
    to_stage: str
    needs_reason: bool
    requirements: tuple[Requirement, ...]

    @property
    def label(self) -> str:
        return str(MOVE_LABELS[self.kind])


MOVE_LABELS = {
    "advance": _l("推进"),
    "skip": _l("跨阶段推进"),
    "back": _l("退回更正"),
    "pause": _l("暂缓"),
    "resume": _l("恢复推进"),
    "terminate": _l("终止"),
}
MOVE_KINDS: tuple[str, ...] = tuple(MOVE_LABELS)  # display order too
# Moves that put the project on a later main-line stage (and so set its milestone date).
FORWARD_KINDS: tuple[str, ...] = ("advance", "skip")

# A stage request is pending until a manager approves or rejects it, or its requester withdraws.
REQUEST_STATUSES: tuple[str, ...] = ("pending", "approved", "rejected", "withdrawn")
REQUEST_STATUS_LABELS = {
    "pending": _l("待审批"),
    "approved": _l("已批准"),
    "rejected": _l("已驳回"),
    "withdrawn": _l("已撤回"),
}


def cleared_on_correction(to_stage: str) -> tuple[tuple[str, Requirement], ...]:
    """(stage, requirement) pairs whose project field a correction back to ``to_stage`` clears."""
    return tuple((code, r) for code in after(to_stage) for r in STAGE_REQUIREMENTS[code]
                 if r.project_field and not r.kept_on_correction)


def _build_moves() -> dict[tuple[str, str], Move]:
    moves: dict[tuple[str, str], Move] = {}
    for a in MAIN_LINE:
        for b in MAIN_LINE:
            if a.code == b.code:
                continue
            if b.order == a.order + 1:
                kind = "advance"
            elif b.order > a.order:
                kind = "skip"
            else:
                kind = "back"
            needs_reason = kind != "advance"
            reqs = STAGE_REQUIREMENTS[b.code] if kind != "back" else ()
            moves[(a.code, b.code)] = Move(kind, a.code, b.code, needs_reason,
                                           reqs + ((REASON,) if needs_reason else ()))
        moves[(a.code, "paused")] = Move("pause", a.code, "paused", True, (REASON, RESUME_ON))
        moves[(a.code, "terminated")] = Move("terminate", a.code, "terminated", True, (REASON,))
        moves[("paused", a.code)] = Move("resume", "paused", a.code, True, (REASON,))
    moves[("paused", "terminated")] = Move("terminate", "paused", "terminated", True, (REASON,))
    return moves


MOVES: dict[tuple[str, str], Move] = _build_moves()


def move_for(from_stage: str, to_stage: str) -> Move | None:
    return MOVES.get((from_stage, to_stage))


def moves_from(from_stage: str) -> list[Move]:
    return [m for (a, _b), m in MOVES.items() if a == from_stage]


def requirement_kinds() -> dict[str, Requirement]:
    """Every value any request may carry, by key (what a stage-request input may hold)."""
    out: dict[str, Requirement] = {}
    for move in MOVES.values():
        for req in move.requirements:
            out.setdefault(req.key, req)
    return out
