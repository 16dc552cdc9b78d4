"""audit chain at commit: entries get their place (seq) and hashes when their transaction commits

Entries are inserted unchained at flush time and chained at commit, so ``prev_hash`` and
``hash`` become nullable until then and ``seq`` (the chain order, which is commit order) is
new. Existing chains were written in id order: ``seq = id``. Their hashes stay plain SHA-256
until ``flask audit rekey`` (detected per entry by ``verify``; no marker).

"""
import sqlalchemy as sa
from alembic import op

revision = "87830150ee46"
down_revision = "124b0bdfad44"


def upgrade():
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
    op.execute("UPDATE audit_entry SET seq = id")
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entry_seq"), ["seq"])


def downgrade():
    # Unchained rows exist only inside open transactions; chained ones keep their hashes. A
    # chain whose commit order differs from id order no longer verifies by id after this.
    op.execute("DELETE FROM audit_entry WHERE seq IS NULL")
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_entry_seq"), type_="unique")
        batch_op.drop_column("seq")
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
