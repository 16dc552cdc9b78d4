"""``flask progress refresh`` rebuilds a missing stage history and stale lights."""
from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select, update

from tests import factories
from tracker.progress.models import StageEvent
from tracker.projects.models import Project


def test_refresh_rebuilds_history_and_lights(app, db):
    project = factories.make_project(stage="signed", signed_on=date(2020, 1, 1))
    db.session.execute(delete(StageEvent).where(StageEvent.project_id == project.id))
    db.session.execute(update(Project).where(Project.id == project.id).values(due_on=None, red_on=None))
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["progress", "refresh"])

    assert result.exit_code == 0, result.output
    assert "stage history written for 1 project" in result.output
    events = db.session.execute(select(StageEvent).where(StageEvent.project_id == project.id)).scalars().all()
    assert [(e.to_stage, e.effective_on) for e in events] == [("signed", date(2020, 1, 1))]
    db.session.expire_all()
    refreshed = db.session.get(Project, project.id)
    # signed → registered is due 3 months after signing, red after 6 (the default deadlines).
    assert (refreshed.due_on, refreshed.red_on) == (date(2020, 4, 1), date(2020, 7, 1))

    again = app.test_cli_runner().invoke(args=["progress", "refresh"])
    assert "written for 0 project(s); lights changed on 0 project(s)" in again.output


def test_refresh_is_audited_so_kept_pages_follow_it(app, db):
    """The command changes lights without the operations: its audit entry moves the data
    version that the kept list rows and totals follow (a run that changes nothing writes none)."""
    from tracker.audit.models import AuditEntry
    from tracker.core import datacache

    project = factories.make_project(stage="signed", signed_on=date(2020, 1, 1))
    db.session.execute(update(Project).where(Project.id == project.id).values(due_on=None, red_on=None))
    db.session.commit()
    before = datacache.data_version()
    assert app.test_cli_runner().invoke(args=["progress", "refresh"]).exit_code == 0
    db.session.rollback()
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "progress.refresh")).scalar_one()
    assert entry.changes["lights_changed"] >= 1 and entry.seq is not None
    assert datacache.data_version() != before
    after = datacache.data_version()
    assert app.test_cli_runner().invoke(args=["progress", "refresh"]).exit_code == 0
    db.session.rollback()
    assert datacache.data_version() == after
