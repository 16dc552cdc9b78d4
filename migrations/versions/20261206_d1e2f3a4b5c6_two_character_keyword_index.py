"""two-character keyword index: each project and investor name's pairs of neighbouring
characters, in tables kept by triggers (project_name_gram, investor_name_gram)

Chinese keywords are often two characters (电池, 吉利, 医药), below a trigram: without this they
read every name (~100 ms at 100,000 projects). Tables, not a GIN index on an expression: a
pair found in nearly every name (项目) then reads one index range, where an expression index
made PostgreSQL compute every name's pairs again (1.4 s at 100,000).

Revision ID: d1e2f3a4b5c6
Revises: c9d8e7f6a5b4
Create Date: 2026-12-06 10:00:00

"""
from alembic import op

revision = "d1e2f3a4b5c6"
down_revision = "c9d8e7f6a5b4"
branch_labels = None
depends_on = None

TABLES = ("project", "investor")
# SQLite triggers cannot loop or use WITH: a name's character positions come from this table
# of numbers. Names are at most 100 characters (the models); 1,000 leaves room.
SEQ_MAX = 1000


def _table(grams: str, suffix: str = "") -> list[str]:
    """The pairs by pair (the lookup) and by row (a rename or delete drops the row's pairs by
    its id, not by recomputing the old name's pairs, which a new lower() could compute
    otherwise)."""
    return [f"CREATE TABLE {grams} (gram VARCHAR(2) NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (gram, id)){suffix}",
            f"CREATE INDEX ix_{grams}_id ON {grams} (id)"]


# Lower-cased as the LIKE of projects.search compares (lower() on both sides, in the database).
PG_PAIRS = """
CREATE FUNCTION search_pairs(name text) RETURNS SETOF text LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT DISTINCT substr(lower(name), i, 2) FROM generate_series(1, char_length(lower(name)) - 1) AS i
$$
"""


def _pg(name: str) -> list[str]:
    grams = f"{name}_name_gram"
    return [
        # No write may slip between the fill and the trigger (the lock lasts the migration's
        # transaction; reads go on).
        f"LOCK TABLE {name} IN SHARE MODE",
        *_table(grams),
        f"INSERT INTO {grams}(gram, id) SELECT search_pairs(name), id FROM {name}",
        # Inserts once per statement (the ORM's batched INSERT … RETURNING of many rows is one;
        # rows flushed one INSERT each, as psycopg 3 does with ids given in advance, run it per
        # row), renames and deletes per row; a name written unchanged costs nothing.
        f"""CREATE FUNCTION {grams}_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {grams}(gram, id) SELECT search_pairs(r.name), r.id FROM new_rows AS r ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER {grams}_add AFTER INSERT ON {name} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {grams}_add()",
        f"""CREATE FUNCTION {grams}_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {grams} WHERE id = OLD.id;
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO {grams}(gram, id) SELECT search_pairs(NEW.name), NEW.id ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER {grams}_sync_delete AFTER DELETE ON {name} FOR EACH ROW EXECUTE FUNCTION {grams}_sync()",
        f"CREATE TRIGGER {grams}_sync_rename AFTER UPDATE OF name ON {name} FOR EACH ROW "
        f"WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION {grams}_sync()",
        # A pair's share of the names ranges from one in 100,000 (电池) to nine in ten (项目): with
        # the default statistics every pair not among the 100 commonest is guessed at ~1,000
        # rows, and PostgreSQL then reads the whole project table instead of a few rows by id.
        f"ALTER TABLE {grams} ALTER COLUMN gram SET STATISTICS 3000",
        f"ANALYZE {grams}",
    ]


def _sqlite(name: str) -> list[str]:
    grams = f"{name}_name_gram"

    def pairs(row: str) -> str:
        return f"SELECT lower(substr({row}.name, n, 2)), {row}.id FROM search_seq WHERE n < length({row}.name)"

    drop_old = f"DELETE FROM {grams} WHERE id = old.id;"
    return [
        *_table(grams, " WITHOUT ROWID"),
        f"INSERT OR IGNORE INTO {grams}(gram, id) SELECT lower(substr(t.name, s.n, 2)), t.id "
        f"FROM {name} AS t JOIN search_seq AS s ON s.n < length(t.name)",
        f"CREATE TRIGGER {grams}_ai AFTER INSERT ON {name} BEGIN "
        f"INSERT OR IGNORE INTO {grams}(gram, id) {pairs('new')}; END",
        f"CREATE TRIGGER {grams}_ad AFTER DELETE ON {name} BEGIN {drop_old} END",
        f"CREATE TRIGGER {grams}_au AFTER UPDATE OF name ON {name} WHEN old.name IS NOT new.name BEGIN {drop_old} "
        f"INSERT OR IGNORE INTO {grams}(gram, id) {pairs('new')}; END",
    ]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_PAIRS)
        statements = [s for name in TABLES for s in _pg(name)]
    else:
        op.execute("CREATE TABLE search_seq (n INTEGER PRIMARY KEY)")
        op.execute("INSERT INTO search_seq(n) WITH RECURSIVE s(n) AS "
                   f"(SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {SEQ_MAX}) SELECT n FROM s")
        statements = [s for name in TABLES for s in _sqlite(name)]
    for statement in statements:
        op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in TABLES:
        grams = f"{name}_name_gram"
        if postgresql:
            for trigger in ("add", "sync_delete", "sync_rename"):
                op.execute(f"DROP TRIGGER {grams}_{trigger} ON {name}")
            op.execute(f"DROP FUNCTION {grams}_add()")
            op.execute(f"DROP FUNCTION {grams}_sync()")
        else:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER {grams}_{suffix}")
        op.execute(f"DROP TABLE {grams}")
    op.execute("DROP FUNCTION search_pairs(text)" if postgresql else "DROP TABLE search_seq")
