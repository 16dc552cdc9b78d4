"""project contact phone (项目联系人电话)"""
import sqlalchemy as sa
from alembic import op

revision = "8c4e2f1a7d30"
down_revision = "5d0c1a7e9b21"


def upgrade():
    with op.batch_alter_table("project") as batch_op:
        batch_op.add_column(sa.Column("contact_phone", sa.String(length=30), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("project") as batch_op:
        batch_op.drop_column("contact_phone")
