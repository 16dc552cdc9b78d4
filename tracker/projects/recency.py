"""最近更新: a project's ``updated_at`` moves when something about it changes that is stored
in other tables (a stage request filed, decided or withdrawn, an attachment, planned
milestone dates), so sorting the list by 最近更新 brings it to the top.

The bump is a Core UPDATE of that one column, not an ORM attribute change: ``Project`` has
a ``version_id_col``, which an ORM flush increments on every UPDATE of the row, and that
would make anyone's open edit form of the project falsely stale (409) although none of its
fields changed. The UPDATE below leaves ``version_id`` alone.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from tracker.core.db import utcnow
from tracker.extensions import db
from tracker.projects.models import Project


def touch(project_id: int) -> None:
    """Mark the project as just updated, without bumping its edit version."""
    now = utcnow()
    db.session.execute(
        update(Project).where(Project.id == project_id).values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    loaded = db.session.identity_map.get(db.session.identity_key(Project, project_id))
    if loaded is not None:  # keep the object in this session in step, without marking it dirty
        set_committed_value(loaded, "updated_at", now)
