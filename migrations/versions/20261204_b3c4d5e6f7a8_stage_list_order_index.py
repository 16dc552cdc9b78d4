"""stage list order index: the list's default order within one stage

Revision ID: b3c4d5e6f7a8
Revises: a7b8c9d0e1f2
Create Date: 2026-12-04 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "b3c4d5e6f7a8"
down_revision = "a7b8c9d0e1f2"
branch_labels = None
depends_on = None


def _name() -> str:
    return "ix_project_stage_recent_pg" if op.get_bind().dialect.name == "postgresql" else "ix_project_stage_recent"


def upgrade():
    # As ix_project_recent: PostgreSQL spells NULLS LAST; SQLite puts NULLs last in DESC order.
    nulls = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    op.create_index(_name(), "project", ["stage", sa.text(f"signed_on DESC{nulls}"), sa.text("id DESC")])


def downgrade():
    op.drop_index(_name(), table_name="project")
