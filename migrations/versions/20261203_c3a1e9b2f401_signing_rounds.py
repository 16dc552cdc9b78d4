"""signing rounds: a round number and signatories' titles per signing, witnesses per round"""
import sqlalchemy as sa
from alembic import op

revision = "c3a1e9b2f401"
down_revision = "d4b2f0c3a512"


def upgrade():
    with op.batch_alter_table("ceremony_signing") as batch:
        batch.add_column(sa.Column("round_no", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("signatory_local_title", sa.String(length=60), nullable=False, server_default=""))
        batch.add_column(sa.Column("signatory_investor_title", sa.String(length=60), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("ceremony") as batch:
        batch.add_column(sa.Column("round_witnesses", sa.Text(), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("ceremony") as batch:
        batch.drop_column("round_witnesses")
    with op.batch_alter_table("ceremony_signing") as batch:
        batch.drop_column("signatory_investor_title")
        batch.drop_column("signatory_local_title")
        batch.drop_column("round_no")
