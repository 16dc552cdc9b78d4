"""Service-layer tests of the stage workflow (tracker.workflow.operations)."""
from __future__ import annotations

from datetime import date

import pytest

from tests.factories import make_project, make_user, uscc
from tracker.core.permissions import role_allows
from tracker.workflow import operations as wf
from tracker.workflow.models import Milestone, Notification


@pytest.fixture()
def people(db, ref):
    return {
        "staff": make_user("staff", ref.huangyan),
        "manager": make_user("manager", ref.huangyan),
        "manager2": make_user("manager", ref.huangyan),
        "other_manager": make_user("manager", ref.linhai),
        "city_manager": make_user("manager", ref.city),
        "leader": make_user("leader", ref.huangyan),
    }


def test_request_then_approve_moves_the_project(db, people):
    p = make_project(stage="signed")
    req = wf.request_move(people["staff"], p, to_stage="registered", actual_date="2024-07-01",
                          values={"company_uscc": uscc(), "registered_capital": "5000"})
    assert req.status == "pending" and p.stage == "signed"
    wf.approve(people["manager"], req.id, "同意")
    db.session.flush()
    assert p.stage == "registered" and p.registered_capital == 5000
    ms = db.session.query(Milestone).filter_by(project_id=p.id, stage="registered").one()
    assert ms.actual_on == date(2024, 7, 1)
    note = db.session.query(Notification).filter_by(request_id=req.id).one()
    assert note.user_id == people["staff"].id and note.kind == "approved"


def test_double_decision_is_a_conflict(db, people):
    p = make_project(stage="completed")
    req = wf.request_move(people["staff"], p, to_stage="production", actual_date="2024-07-01")
    wf.approve(people["manager"], req.id)
    with pytest.raises(wf.Conflict):
        wf.approve(people["manager2"], req.id)
    with pytest.raises(wf.Conflict):
        wf.reject(people["manager2"], req.id, "晚了")


def test_self_approval_is_forbidden(db, people):
    p = make_project(stage="completed")
    req = wf.request_move(people["manager"], p, to_stage="production", actual_date="2024-07-01")
    with pytest.raises(wf.NotAllowed):
        wf.approve(people["manager"], req.id)


def test_out_of_scope_manager_cannot_decide(db, people):
    p = make_project(stage="completed")
    req = wf.request_move(people["staff"], p, to_stage="production", actual_date="2024-07-01")
    with pytest.raises(wf.NotAllowed):
        wf.approve(people["other_manager"], req.id)
    wf.approve(people["city_manager"], req.id)


def test_missing_requirements_are_reported_per_field(db, people):
    p = make_project(stage="signed")
    with pytest.raises(wf.Invalid) as err:
        wf.request_move(people["staff"], p, to_stage="registered", actual_date="2999-01-01",
                        values={"company_uscc": "91350100M000100Y44"})
    assert set(err.value.errors) == {"actual_date", "company_uscc", "registered_capital"}


def test_pause_and_resume_return_to_the_same_stage(db, people):
    p = make_project(stage="construction")
    req = wf.request_move(people["staff"], p, to_stage="paused", actual_date="2024-07-01",
                          values={"reason": "企业资金链紧张", "expected_resume_on": "2025-01-01"})
    wf.approve(people["manager"], req.id)
    assert p.stage == "paused" and p.paused_from_stage == "construction"
    assert [m.to_stage for m in wf.allowed_moves(people["staff"], p) if m.kind == "resume"] == ["construction"]
    with pytest.raises(wf.Invalid):
        wf.request_move(people["staff"], p, to_stage="signed", actual_date="2024-08-01", reason="x")
    req = wf.request_move(people["staff"], p, to_stage="construction", actual_date="2024-08-01", reason="资金到位")
    wf.approve(people["manager"], req.id)
    assert p.stage == "construction" and p.paused_from_stage is None


def test_one_pending_request_per_project(db, people):
    p = make_project(stage="completed")
    wf.request_move(people["staff"], p, to_stage="production", actual_date="2024-07-01")
    with pytest.raises(wf.Conflict):
        wf.request_move(people["manager"], p, to_stage="production", actual_date="2024-07-01")


def test_leader_cannot_request(db, people):
    p = make_project(stage="completed")
    with pytest.raises(wf.NotAllowed):
        wf.request_move(people["leader"], p, to_stage="production", actual_date="2024-07-01")


def test_a_stage_cannot_be_reached_before_the_one_before_it(db, people):
    p = make_project(stage="signed", signed_on=date(2024, 6, 1))
    with pytest.raises(wf.Invalid) as err:
        wf.request_move(people["staff"], p, to_stage="registered", actual_date="2024-05-31",
                        values={"company_uscc": uscc(), "registered_capital": "5000"})
    assert set(err.value.errors) == {"actual_date"} and "2024-06-01" in err.value.errors["actual_date"]
    req = wf.request_move(people["staff"], p, to_stage="registered", actual_date="2024-06-01",
                          values={"company_uscc": uscc(), "registered_capital": "5000"})
    wf.approve(people["manager"], req.id)
    with pytest.raises(wf.Invalid) as err:  # a skip is checked against the latest earlier milestone
        wf.request_move(people["staff"], p, to_stage="construction", actual_date="2024-05-20",
                        values={"construction_permit_no": "331003202405200101", "reason": "租用厂房，无需供地"})
    assert "actual_date" in err.value.errors
    # A correction back to an earlier stage is not bound by the later dates.
    wf.request_move(people["staff"], p, to_stage="signed", actual_date="2024-05-20", reason="注册信息录错")


# --- The whole stage table: every (from, to) pair × every role ----------------------------

from tracker.workflow.stages import CODES, move_for  # noqa: E402

VALID = {"uscc": lambda: uscc(), "amount": lambda: "1200", "area": lambda: "85.5",
         "text": lambda: "台自然资(2024)第0001号", "date": lambda: "2030-01-01"}
PAUSED_AT = "construction"  # where the paused project was


def _values(move) -> dict[str, str]:
    return {req.key: VALID[req.kind]() for req in (move.requirements if move else ())} | {"reason": "更正"}


@pytest.mark.parametrize("from_stage,to_stage", [(a, b) for a in CODES for b in CODES if a != b])
def test_every_move_for_every_role(db, ref, people, from_stage, to_stage):
    """The table decides: a move it lists can be requested by its request roles and approved
    only by its approve roles (never the requester); anything else is refused outright."""
    move = move_for(from_stage, to_stage)
    if move is not None and move.kind == "resume" and to_stage != PAUSED_AT:
        move = None  # resume goes back only to where the project was paused
    admin = make_user("admin", ref.city)
    staff2 = make_user("staff", ref.huangyan)
    roles = {"staff": people["staff"], "manager": people["manager"], "leader": people["leader"], "admin": admin}
    for _role, actor in roles.items():
        project = make_project(stage=from_stage, signed_on=date(2020, 1, 1),
                               paused_from_stage=PAUSED_AT if from_stage == "paused" else None)

        def attempt(actor=actor, project=project):
            return wf.request_move(actor, project, to_stage=to_stage, actual_date="2024-07-01",
                                   values=_values(move))

        if move is None:
            with pytest.raises((wf.Invalid, wf.NotAllowed)):
                attempt()
            continue
        if not role_allows(actor, "stage.request"):
            with pytest.raises(wf.NotAllowed):
                attempt()
            continue
        req = attempt()
        assert req.status == "pending" and project.stage == from_stage
        deciders = {"requester": actor, "staff": staff2 if actor is people["staff"] else people["staff"],
                    "leader": people["leader"], "admin": admin}
        for who, decider in deciders.items():
            with pytest.raises(wf.NotAllowed):
                wf.approve(decider, req.id, f"{who} may not decide")
        approver = people["manager2"] if actor is people["manager"] else people["manager"]
        assert role_allows(approver, "stage.decide")
        wf.approve(approver, req.id, "同意")
        db.session.flush()
        assert project.stage == to_stage
