"""stage history, stage deadlines, funds records, unit targets; lights and 增资 on projects

Backfills the stage history from the approved requests and the milestones' actual dates,
the deadlines from DOMAIN.md's defaults, one funds record per project holding the total
recorded before (dated at the signing), and each project's lights.
"""
import sqlalchemy as sa
from alembic import op

import tracker.core.db

revision = "e5f1a2b3c4d6"
down_revision = "c3a1e9b2f401"

# Frozen here: later edits of the defaults in the code must not change what this inserted.
DEFAULT_DEADLINES = {"negotiating": (6, 12), "signed": (3, 6), "registered": (6, 12), "land_secured": (3, 6),
                     "construction": (24, 36), "completed": (3, 6), "production": (24, 36)}
OPENING_NOTE = "启用分笔登记前的累计到位资金"


def upgrade():
    op.create_table('stage_deadline',
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('yellow_months', sa.Integer(), nullable=False),
    sa.Column('red_months', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("stage IN ('negotiating','signed','registered','land_secured','construction','completed','production','full_capacity')", name=op.f('ck_stage_deadline_stage_known')),
    sa.CheckConstraint('yellow_months > 0 AND red_months >= yellow_months AND red_months <= 120', name=op.f('ck_stage_deadline_months_ordered')),
    sa.PrimaryKeyConstraint('stage', name=op.f('pk_stage_deadline'))
    )
    op.create_table('unit_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('projects_10yi', sa.Integer(), nullable=False),
    sa.Column('projects_10yi_yrd', sa.Integer(), nullable=False),
    sa.Column('investment', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('started', sa.Integer(), nullable=False),
    sa.Column('funds', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', tracker.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('projects_10yi >= 0 AND projects_10yi_yrd >= 0 AND started >= 0 AND investment >= 0 AND funds >= 0', name=op.f('ck_unit_target_not_negative')),
    sa.CheckConstraint('year BETWEEN 2000 AND 2100', name=op.f('ck_unit_target_year_plausible')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_target_unit_id_unit')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_unit_target_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_target')),
    sa.UniqueConstraint('unit_id', 'year', name='uq_unit_target_unit_year')
    )
    with op.batch_alter_table('unit_target', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_target_unit_id'), ['unit_id'], unique=False)

    op.create_table('stage_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('from_stage', sa.String(length=20), nullable=True),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.Column('counts_as', sa.String(length=20), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', tracker.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("counts_as IN ('negotiating','signed','registered','land_secured','construction','completed','production','full_capacity','terminated')", name=op.f('ck_stage_event_counts_as_known')),
    sa.CheckConstraint("from_stage IS NULL OR from_stage IN ('negotiating','signed','registered','land_secured','construction','completed','production','full_capacity','paused','terminated')", name=op.f('ck_stage_event_from_stage_known')),
    sa.CheckConstraint("to_stage IN ('negotiating','signed','registered','land_secured','construction','completed','production','full_capacity','paused','terminated')", name=op.f('ck_stage_event_to_stage_known')),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_stage_event_actor_id_user')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_stage_event_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['stage_request.id'], name=op.f('fk_stage_event_request_id_stage_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_event'))
    )
    with op.batch_alter_table('stage_event', schema=None) as batch_op:
        batch_op.create_index('ix_stage_event_effective', ['effective_on'], unique=False)
        batch_op.create_index('ix_stage_event_project_recorded',
                              ['project_id', 'id', 'effective_on', 'counts_as', 'to_stage'], unique=False)

    op.create_table('funds_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('evidence', sa.String(length=200), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', tracker.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_funds_record_amount_positive')),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], name=op.f('fk_funds_record_attachment_id_attachment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_funds_record_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_funds_record_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funds_record'))
    )
    with op.batch_alter_table('funds_record', schema=None) as batch_op:
        batch_op.create_index('ix_funds_record_project_received', ['project_id', 'received_on'], unique=False)

    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('red_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('increase_of_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_project_due', ['due_on', 'id'], unique=False)
        batch_op.create_index('ix_project_updated_at', ['updated_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_increase_of_id'), ['increase_of_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_project_increase_of_id_project'), 'project', ['increase_of_id'], ['id'])

    _backfill(op.get_bind())


def _backfill(conn):
    from tracker.core.db import utcnow
    from tracker.progress import history, lights

    deadline = sa.table("stage_deadline", sa.column("stage"), sa.column("yellow_months"),
                        sa.column("red_months"), sa.column("version_id"))
    conn.execute(sa.insert(deadline), [{"stage": k, "yellow_months": y, "red_months": r, "version_id": 1}
                                       for k, (y, r) in DEFAULT_DEADLINES.items()])
    history.backfill(conn)
    project = sa.table("project", sa.column("id"), sa.column("signed_on", sa.Date), sa.column("created_at", sa.DateTime),
                       sa.column("funds_in_place", sa.Numeric(14, 2)))
    funds = sa.table("funds_record", sa.column("project_id"), sa.column("received_on", sa.Date),
                     sa.column("amount", sa.Numeric(14, 2)),
                     sa.column("note"), sa.column("evidence"),
                     sa.column("created_at", tracker.core.db.UTCDateTime()))
    now = utcnow()
    rows = [{"project_id": p.id, "received_on": p.signed_on or p.created_at.date(), "amount": p.funds_in_place,
             "note": OPENING_NOTE, "evidence": "", "created_at": now}
            for p in conn.execute(sa.select(project).where(project.c.funds_in_place > 0))]
    if rows:
        conn.execute(sa.insert(funds), rows)
    lights.refresh(conn)


def downgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_project_increase_of_id_project'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_project_increase_of_id'))
        batch_op.drop_index('ix_project_updated_at')
        batch_op.drop_index('ix_project_due')
        batch_op.drop_column('increase_of_id')
        batch_op.drop_column('red_on')
        batch_op.drop_column('due_on')
        batch_op.drop_column('stage_since')

    with op.batch_alter_table('funds_record', schema=None) as batch_op:
        batch_op.drop_index('ix_funds_record_project_received')

    op.drop_table('funds_record')
    with op.batch_alter_table('stage_event', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_event_project_recorded')
        batch_op.drop_index('ix_stage_event_effective')

    op.drop_table('stage_event')
    with op.batch_alter_table('unit_target', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_target_unit_id'))

    op.drop_table('unit_target')
    op.drop_table('stage_deadline')
