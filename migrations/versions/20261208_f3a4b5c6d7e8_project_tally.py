"""project tally: the list's totals kept by triggers on project (tracker/projects/tally.py)

Rows of (unit, archived, stage, paused-from stage, first signing or 增资) with a number of
projects and the sums of their contracted investment and funds in place, in fen. The triggers
only add rows (a change: the old values negated, then the new ones); the job runner folds
them now and then. Filled here from the projects already there, with the triggers in place
and the project table locked against writes meanwhile (PostgreSQL; SQLite has one writer).

Revision ID: f3a4b5c6d7e8
Revises: e2f3a4b5c6d7
Create Date: 2026-12-08 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "f3a4b5c6d7e8"
down_revision = "e2f3a4b5c6d7"
branch_labels = None
depends_on = None

COLUMNS = "unit_id, is_archived, stage, paused_from_stage, is_first, n, investment_fen, funds_fen"
# What moves a project from one tally row to another, or changes its sums.
WATCHED = ("unit_id", "is_archived", "stage", "paused_from_stage", "contracted_investment", "funds_in_place")


def _values(row: str, sign: str, fen) -> str:
    """One tally row of ``row`` (NEW or OLD) counted with ``sign``; ``fen``: 万元 → integer fen."""
    return (f"{row}.unit_id, {row}.is_archived, {row}.stage, {row}.paused_from_stage, "
            f"{row}.increase_of_id IS NULL, {sign}1, {sign}{fen(f'{row}.contracted_investment')}, "
            f"{sign}{fen(f'{row}.funds_in_place')}")


def _pg_fen(column: str) -> str:
    return f"round(coalesce({column}, 0) * 100)::bigint"


def _sqlite_fen(column: str) -> str:  # amounts are floating point there: rounded to the fen
    return f"CAST(round(coalesce({column}, 0) * 100) AS INTEGER)"


def _changed(distinct: str) -> str:
    moved = " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in WATCHED)
    return f"{moved} OR (OLD.increase_of_id IS NULL) <> (NEW.increase_of_id IS NULL)"


PG_FUNCTIONS = [
    f"""CREATE FUNCTION project_tally_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO project_tally ({COLUMNS}) VALUES ({_values('OLD', '-', _pg_fen)});
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO project_tally ({COLUMNS}) VALUES ({_values('NEW', '', _pg_fen)});
  END IF;
  RETURN NULL;
END $$""",
    # TRUNCATE fires no row trigger: an emptied project table leaves nothing to count.
    """CREATE FUNCTION project_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM project_tally;
  RETURN NULL;
END $$""",
]
PG_TRIGGERS = [
    "CREATE TRIGGER project_tally_insert_delete AFTER INSERT OR DELETE ON project "
    "FOR EACH ROW EXECUTE FUNCTION project_tally_change()",
    f"CREATE TRIGGER project_tally_update AFTER UPDATE ON project FOR EACH ROW "
    f"WHEN ({_changed('IS DISTINCT FROM')}) EXECUTE FUNCTION project_tally_change()",
    "CREATE TRIGGER project_tally_truncate AFTER TRUNCATE ON project "
    "FOR EACH STATEMENT EXECUTE FUNCTION project_tally_truncate()",
]
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER project_tally_ai AFTER INSERT ON project BEGIN "
    f"INSERT INTO project_tally ({COLUMNS}) VALUES ({_values('NEW', '', _sqlite_fen)}); END",
    f"CREATE TRIGGER project_tally_ad AFTER DELETE ON project BEGIN "
    f"INSERT INTO project_tally ({COLUMNS}) VALUES ({_values('OLD', '-', _sqlite_fen)}); END",
    f"CREATE TRIGGER project_tally_au AFTER UPDATE ON project WHEN {_changed('IS NOT')} BEGIN "
    f"INSERT INTO project_tally ({COLUMNS}) VALUES ({_values('OLD', '-', _sqlite_fen)}); "
    f"INSERT INTO project_tally ({COLUMNS}) VALUES ({_values('NEW', '', _sqlite_fen)}); END",
]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("LOCK TABLE project IN SHARE MODE")
    op.create_table(
        "project_tally",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("paused_from_stage", sa.String(length=20), nullable=True),
        sa.Column("is_first", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("investment_fen", sa.BigInteger(), nullable=False),
        sa.Column("funds_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_tally")),
    )
    op.create_index("ix_project_tally_key", "project_tally", ["is_archived", "unit_id", "stage"])
    for statement in (PG_FUNCTIONS + PG_TRIGGERS) if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)
    fen = _pg_fen if postgresql else _sqlite_fen
    op.execute(
        f"INSERT INTO project_tally ({COLUMNS}) "
        f"SELECT unit_id, is_archived, stage, paused_from_stage, increase_of_id IS NULL, count(*), "
        f"sum({fen('contracted_investment')}), sum({fen('funds_in_place')}) FROM project "
        f"GROUP BY unit_id, is_archived, stage, paused_from_stage, increase_of_id IS NULL")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in ("project_tally_insert_delete", "project_tally_update", "project_tally_truncate"):
            op.execute(f"DROP TRIGGER {name} ON project")
        op.execute("DROP FUNCTION project_tally_change()")
        op.execute("DROP FUNCTION project_tally_truncate()")
    else:
        for name in ("project_tally_ai", "project_tally_ad", "project_tally_au"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_project_tally_key", table_name="project_tally")
    op.drop_table("project_tally")
