"""How moves and stage requests read on screen: the project page's stage panel, the request
form, the approval queue and the timeline all name them the same way."""
from __future__ import annotations

from tracker.audit.history import display_value
from tracker.workflow.forms import DATE_LABELS
from tracker.workflow.models import StageRequest
from tracker.workflow.stages import BY_CODE, MOVE_KINDS, MOVE_LABELS, Move, requirement_kinds

# Every value a request may carry (reason, resume date included), by key: label and kind.
REQUIREMENTS = requirement_kinds()


def group_moves(moves: list[Move]) -> list[tuple[str, str, list[Move]]]:
    """[(kind, label, moves)] in the stage table's kind order, moves in main-line order."""
    out = []
    for kind in MOVE_KINDS:
        of_kind = [m for m in moves if m.kind == kind]
        if of_kind:
            of_kind.sort(key=lambda m: BY_CODE[m.to_stage].order if not BY_CODE[m.to_stage].is_side else 99)
            out.append((kind, str(MOVE_LABELS[kind]), of_kind))
    return out


def request_values(req: StageRequest) -> list[tuple[str, str]]:
    """(label, value) pairs of a request's requirement values, readable."""
    rows = []
    for key, value in (req.values or {}).items():
        r = REQUIREMENTS.get(key)
        rows.append((str(r.label) if r else key, display_value(value, r.kind if r else "")))
    return rows


def move_date_label(kind: str) -> str:
    """What the date of a move of ``kind`` means (实际日期, 暂缓日期, 更正生效日期 …)."""
    return str(DATE_LABELS.get(kind, DATE_LABELS["advance"]))
