"""totals covering index: the list's totals line read from a narrow index

Revision ID: c9d8e7f6a5b4
Revises: b3c4d5e6f7a8
Create Date: 2026-12-05 10:00:00

"""
from alembic import op

revision = "c9d8e7f6a5b4"
down_revision = "b3c4d5e6f7a8"
branch_labels = None
depends_on = None

# What projects.queries.totals reads of each live project in scope (tracker/projects/models.py).
TOTALS_COLUMNS = ["stage", "paused_from_stage", "increase_of_id", "contracted_investment", "funds_in_place"]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_project_totals_pg", "project", ["is_archived", "unit_id"],
                        postgresql_include=TOTALS_COLUMNS)
    else:  # SQLite has no INCLUDE: the columns are keys of the index
        op.create_index("ix_project_totals", "project", ["is_archived", "unit_id", *TOTALS_COLUMNS])


def downgrade():
    name = "ix_project_totals_pg" if op.get_bind().dialect.name == "postgresql" else "ix_project_totals"
    op.drop_index(name, table_name="project")
