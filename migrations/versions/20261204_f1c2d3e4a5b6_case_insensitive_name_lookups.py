"""case-insensitive name lookups: (unit_id, lower(name)) indexes on project and investor

Names are unique per unit whatever their case; every create and rename looks them up with
lower(name), and a ledger import does so for thousands of rows at once. Plain indexes, not
unique ones: the application enforces the rule (with a message beside the field), and a
database that already holds two names differing only in case must still upgrade.

Revision ID: f1c2d3e4a5b6
Revises: e5f1a2b3c4d6
Create Date: 2026-12-04 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "f1c2d3e4a5b6"
down_revision = "e5f1a2b3c4d6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_project_unit_lower_name", "project", ["unit_id", sa.text("lower(name)")])
    op.create_index("ix_investor_unit_lower_name", "investor", ["unit_id", sa.text("lower(name)")])


def downgrade():
    op.drop_index("ix_investor_unit_lower_name", table_name="investor")
    op.drop_index("ix_project_unit_lower_name", table_name="project")
