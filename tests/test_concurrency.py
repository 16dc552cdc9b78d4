"""Two managers deciding the same request at the same moment: exactly one decision counts.

Real commits across connections (``committed_db``): each thread has its own app context and
therefore its own session and connection. Threads start their transaction inside
``tracker.core.db.writing()`` (SQLite: BEGIN IMMEDIATE) and are released together by a
``threading.Barrier``. On PostgreSQL the request row is locked (SELECT … FOR UPDATE) and the
decision is a conditional UPDATE; the loser gets ``Conflict`` (HTTP 409).
"""
from __future__ import annotations

import threading
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.factories import make_project, make_user, reference, sign_in
from tracker.audit.models import AuditEntry
from tracker.audit.verify import verify
from tracker.auth.models import User
from tracker.core.db import writing
from tracker.projects.models import Project
from tracker.workflow import operations as wf
from tracker.workflow.models import Notification, StageRequest

ROUNDS = 5
TIMEOUT = 30


@pytest.fixture()
def team(committed_db):
    db = committed_db
    ref = reference()
    people = {
        "staff": make_user("staff", ref.huangyan),
        "m1": make_user("manager", ref.huangyan),
        "m2": make_user("manager", ref.huangyan),
        "city": make_user("manager", ref.city),
    }
    db.session.commit()
    return {k: u.id for k, u in people.items()}


def _new_request(db, staff_id: int) -> tuple[int, int, int]:
    """A committed pending request completed → production; (project id, request id, version)."""
    with writing():
        project = make_project(unit=reference().huangyan, stage="completed")
        staff = db.session.get(User, staff_id)
        req = wf.request_move(staff, project, to_stage="production", actual_date=date(2024, 7, 1))
        ids = project.id, req.id, project.version_id
        db.session.commit()
    # Read nothing more here: an expired attribute would begin a new (IMMEDIATE) transaction
    # in this thread and hold SQLite's write lock while the deciders wait.
    db.session.close()
    return ids


def _run_together(targets) -> list:
    """Start one thread per callable, release them at once, return their results in order."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)

    def runner(i, fn):
        try:
            results[i] = fn(barrier)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            results[i] = err

    threads = [threading.Thread(target=runner, args=(i, fn)) for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a decision hung (lock never released?)"
    return results


def _decider(app, db, manager_id: int, request_id: int, verdict: str):
    def decide(barrier):
        with app.app_context():
            barrier.wait()
            try:
                with writing():  # wraps the start of this thread's transaction
                    actor = db.session.get(User, manager_id)
                    if verdict == "approve":
                        wf.approve(actor, request_id, "同意")
                    else:
                        wf.reject(actor, request_id, "材料不全")
                    db.session.commit()
                return "ok"
            except BaseException:
                db.session.rollback()
                raise
    return decide


def _count(db, *where) -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry).where(*where)).scalar_one()


def _assert_decided_once(db, project_id, request_id, version_before, winner_id, verdict):
    db.session.expire_all()
    req = db.session.get(StageRequest, request_id)
    project = db.session.get(Project, project_id)
    status = "approved" if verdict == "approve" else "rejected"
    assert req.status == status and req.decided_by_id == winner_id
    if verdict == "approve":
        assert project.stage == "production"
        assert project.version_id == version_before + 1  # the project row was written once
        assert _count(db, AuditEntry.action == "project.stage", AuditEntry.object_id == project_id) == 1
    else:
        assert project.stage == "completed" and project.version_id == version_before
    decisions = _count(db, AuditEntry.object_type == "stage_request", AuditEntry.object_id == request_id,
                       AuditEntry.action.in_(["stage_request.approve", "stage_request.reject"]))
    assert decisions == 1
    notes = db.session.execute(
        select(func.count()).select_from(Notification).where(Notification.request_id == request_id)
    ).scalar_one()
    assert notes == 1


@pytest.mark.parametrize("verdicts", [("approve", "approve"), ("approve", "reject")])
def test_simultaneous_decisions_record_exactly_one(app, committed_db, team, verdicts):
    db = committed_db
    for _round in range(ROUNDS):
        project_id, request_id, version = _new_request(db, team["staff"])
        managers = (team["m1"], team["m2"]) if _round % 2 == 0 else (team["m2"], team["city"])
        results = _run_together([
            _decider(app, db, managers[0], request_id, verdicts[0]),
            _decider(app, db, managers[1], request_id, verdicts[1]),
        ])
        winners = [i for i, r in enumerate(results) if r == "ok"]
        losers = [r for r in results if r != "ok"]
        assert len(winners) == 1, results
        assert len(losers) == 1 and isinstance(losers[0], wf.Conflict), results
        assert losers[0].status == 409
        _assert_decided_once(db, project_id, request_id, version, managers[winners[0]], verdicts[winners[0]])
    result = verify()
    assert result.ok, result  # the chain stayed linear under concurrent writers


def _login(client, user_id: int) -> None:
    from tracker.extensions import db

    with writing():
        sign_in(client, db.session.get(User, user_id), commit=True)


def test_simultaneous_http_approvals_one_wins_one_gets_409(app, committed_db, team):
    db = committed_db
    for _round in range(ROUNDS):
        project_id, request_id, version = _new_request(db, team["staff"])
        clients = {}
        for key in ("m1", "m2"):
            # A plain FlaskClient: conftest's `client` fixture may have set app.test_client_class
            # to a class that needs the main thread's app context.
            clients[key] = FlaskClient(app, app.response_class, use_cookies=True)
            _login(clients[key], team[key])
        db.session.close()  # end the main thread's read transaction before the race

        def poster(client, key, url, request_id):
            def post(barrier):
                barrier.wait()
                resp = client.post(url, data={"request_id": str(request_id), "comment": f"{key} 同意"})
                return resp.status_code, resp.get_data(as_text=True)
            return post

        url = f"/projects/{project_id}/stage-request/approve"
        results = _run_together([poster(clients[k], k, url, request_id) for k in ("m1", "m2")])
        assert not any(isinstance(r, BaseException) for r in results), results
        statuses = sorted(code for code, _body in results)
        assert statuses in ([200, 409], [302, 409]), statuses
        loser_body = next(body for code, body in results if code == 409)
        assert "已被" in loser_body  # "已被他人处理" / "已被处理": a clear message
        winner = next(key for key, (code, _b) in zip(("m1", "m2"), results, strict=True) if code != 409)
        _assert_decided_once(db, project_id, request_id, version, team[winner], "approve")
    assert verify().ok
