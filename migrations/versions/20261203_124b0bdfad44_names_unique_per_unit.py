"""names unique per unit: investors, projects, ceremonies (each unit keeps its own records)

Investor names and USCCs, project names and ceremony names were unique across the whole city,
so a county learnt another county's records by being told a name was taken, and a project
filed in one county could point at (and change) another county's investor. Now each is unique
within its unit only, and every project's investor belongs to the project's unit: a project
that pointed at another unit's investor gets its own copy of that investor in the project's
unit (name, USCC, source region, country; not the other unit's introduction).

"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from tracker.core.db import UTCDateTime

revision = "124b0bdfad44"
down_revision = "8c4e2f1a7d30"

investor = sa.table(
    "investor",
    sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("uscc", sa.String),
    sa.column("source_region_id", sa.Integer), sa.column("country", sa.String),
    sa.column("introduction", sa.Text), sa.column("unit_id", sa.Integer), sa.column("version_id", sa.Integer),
    sa.column("created_at", UTCDateTime()), sa.column("updated_at", UTCDateTime()),
)
project = sa.table("project", sa.column("id", sa.Integer), sa.column("unit_id", sa.Integer),
                   sa.column("investor_id", sa.Integer))


def upgrade():
    with op.batch_alter_table("investor") as batch_op:
        batch_op.drop_constraint("uq_investor_name", type_="unique")
        batch_op.drop_constraint("uq_investor_uscc", type_="unique")
        batch_op.create_unique_constraint("uq_investor_unit_name", ["unit_id", "name"])
        batch_op.create_unique_constraint("uq_investor_unit_uscc", ["unit_id", "uscc"])
        batch_op.create_index(batch_op.f("ix_investor_uscc"), ["uscc"], unique=False)
    with op.batch_alter_table("project") as batch_op:
        batch_op.drop_constraint("uq_project_name", type_="unique")
        batch_op.create_unique_constraint("uq_project_unit_name", ["unit_id", "name"])
    with op.batch_alter_table("ceremony") as batch_op:
        batch_op.drop_constraint("uq_ceremony_name", type_="unique")
        batch_op.create_unique_constraint("uq_ceremony_unit_name", ["unit_id", "name"])
    _give_each_unit_its_own_investors()


def _give_each_unit_its_own_investors():
    """Point every project at an investor of its own unit, copying where needed."""
    conn = op.get_bind()
    pairs = conn.execute(
        sa.select(project.c.investor_id, project.c.unit_id).distinct()
        .select_from(project.join(investor, investor.c.id == project.c.investor_id))
        .where(project.c.unit_id != investor.c.unit_id)
    ).all()
    now = datetime.now(timezone.utc)
    for investor_id, unit_id in pairs:
        src = conn.execute(sa.select(investor).where(investor.c.id == investor_id)).one()
        same = conn.execute(sa.select(investor.c.id).where(
            investor.c.unit_id == unit_id,
            sa.or_(sa.func.lower(investor.c.name) == src.name.lower(),
                   sa.and_(investor.c.uscc.is_not(None), investor.c.uscc == src.uscc)),
        ).limit(1)).scalar()
        if same is None:
            same = conn.execute(investor.insert().values(
                name=src.name, uscc=src.uscc, source_region_id=src.source_region_id, country=src.country,
                introduction="", unit_id=unit_id, version_id=1, created_at=now, updated_at=now,
            ).returning(investor.c.id)).scalar_one()
        conn.execute(project.update().where(project.c.investor_id == investor_id, project.c.unit_id == unit_id)
                     .values(investor_id=same))


def downgrade():
    conn = op.get_bind()
    for table, columns in (("investor", ("name", "uscc")), ("project", ("name",)), ("ceremony", ("name",))):
        for column in columns:
            col = sa.column(column)
            dup = conn.execute(sa.select(col).select_from(sa.table(table, col)).where(col.is_not(None))
                               .group_by(col).having(sa.func.count() > 1).limit(1)).first()
            if dup is not None:
                raise RuntimeError(
                    f"Cannot downgrade: {table}.{column} {dup[0]!r} is used by several units; "
                    "rename or merge those records first."
                )
    with op.batch_alter_table("ceremony") as batch_op:
        batch_op.drop_constraint("uq_ceremony_unit_name", type_="unique")
        batch_op.create_unique_constraint("uq_ceremony_name", ["name"])
    with op.batch_alter_table("project") as batch_op:
        batch_op.drop_constraint("uq_project_unit_name", type_="unique")
        batch_op.create_unique_constraint("uq_project_name", ["name"])
    with op.batch_alter_table("investor") as batch_op:
        batch_op.drop_index(batch_op.f("ix_investor_uscc"))
        batch_op.drop_constraint("uq_investor_unit_uscc", type_="unique")
        batch_op.drop_constraint("uq_investor_unit_name", type_="unique")
        batch_op.create_unique_constraint("uq_investor_uscc", ["uscc"])
        batch_op.create_unique_constraint("uq_investor_name", ["name"])
