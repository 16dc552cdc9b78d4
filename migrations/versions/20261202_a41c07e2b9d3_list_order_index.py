"""list order indexes: newest signing first (undated last); investment with id

Revision ID: a41c07e2b9d3
Revises: 311fbc5521ae
Create Date: 2026-12-02 02:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "a41c07e2b9d3"
down_revision = "311fbc5521ae"
branch_labels = None
depends_on = None


def _name() -> str:
    return "ix_project_recent_pg" if op.get_bind().dialect.name == "postgresql" else "ix_project_recent"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        columns = [sa.text("signed_on DESC NULLS LAST"), sa.text("id DESC")]
    else:  # SQLite: DESC already puts NULLs last; NULLS LAST is not allowed in an index
        columns = [sa.text("signed_on DESC"), sa.text("id DESC")]
    with op.batch_alter_table("project") as batch_op:
        batch_op.create_index(_name(), columns)
        batch_op.drop_index("ix_project_contracted_investment")
        batch_op.create_index("ix_project_investment_id", ["contracted_investment", "id"])


def downgrade():
    with op.batch_alter_table("project") as batch_op:
        batch_op.drop_index("ix_project_investment_id")
        batch_op.create_index("ix_project_contracted_investment", ["contracted_investment"])
        batch_op.drop_index(_name())
