"""keyword search indexes: pg_trgm GIN on project and investor names (PostgreSQL), FTS5
trigram tables kept by triggers (SQLite)

Revision ID: a7b8c9d0e1f2
Revises: f1c2d3e4a5b6
Create Date: 2026-12-04 10:00:00

"""
from alembic import op

revision = "a7b8c9d0e1f2"
down_revision = "f1c2d3e4a5b6"
branch_labels = None
depends_on = None

TABLES = ("project", "investor")


def _sqlite_fts(name: str) -> list[str]:
    """An external-content FTS5 table on ``name``.name (the trigram tokenizer: any substring of
    three characters or more), filled now and kept in step by triggers."""
    fts = f"{name}_name_fts"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5(name, content='{name}', content_rowid='id', tokenize='trigram')",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {name} BEGIN "
        f"INSERT INTO {fts}(rowid, name) VALUES (new.id, new.name); END",
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {name} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, name) VALUES ('delete', old.id, old.name); END",
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF name ON {name} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, name) VALUES ('delete', old.id, old.name); "
        f"INSERT INTO {fts}(rowid, name) VALUES (new.id, new.name); END",
    ]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name in TABLES:
            op.execute(f"CREATE INDEX ix_{name}_name_trgm ON {name} USING gin (name gin_trgm_ops)")
    else:
        for name in TABLES:
            for statement in _sqlite_fts(name):
                op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in TABLES:
            op.execute(f"DROP INDEX ix_{name}_name_trgm")
    else:
        for name in TABLES:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER {name}_name_fts_{suffix}")
            op.execute(f"DROP TABLE {name}_name_fts")
