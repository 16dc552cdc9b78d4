"""english names: name_en on unit, industry, source_region and platform"""
import sqlalchemy as sa
from alembic import op

revision = "d4b2f0c3a512"
down_revision = "9ba1fff9ac34"

TABLES = ("unit", "industry", "source_region", "platform")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("name_en", sa.String(length=80), nullable=False, server_default=""))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("name_en")
