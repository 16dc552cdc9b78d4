"""``flask audit verify``: check the audit log's hash chain (exit code 1 when broken)."""
from __future__ import annotations

import sys
import time

import click
from flask import Flask
from sqlalchemy import select

from tracker.extensions import db


def _parse_anchor(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    ident, sep, digest = value.partition(":")
    if not sep or not ident.strip().isdigit() or len(digest.strip()) != 64:
        raise click.BadParameter("expected ID:HASH, e.g. 1234:3f2a…(64 hex digits)")
    return int(ident), digest.strip().lower()


def register(app: Flask) -> None:
    @app.cli.group("audit")
    def audit_group():
        """The append-only audit log."""

    @audit_group.command("verify")
    @click.option("--batch", default=5000, show_default=True, type=click.IntRange(min=1),
                  help="Entries read per query.")
    @click.option("--anchor", default=None, metavar="ID:HASH",
                  help="A previously recorded 'last id:hash'; fails if that entry is gone or changed.")
    def audit_verify(batch: int, anchor: str | None):
        """Recompute every entry's hash in order; report the first edited or missing entry.

        Prints the entry count and the last entry's id and hash: keep them outside the
        database (that is the anchor). Deleting the newest entries leaves a consistent chain
        and can only be detected against such an anchor (--anchor ID:HASH).
        """
        from tracker.audit.models import AuditEntry
        from tracker.audit.verify import verify

        wanted = _parse_anchor(anchor)
        started = time.perf_counter()
        result = verify(batch=batch)
        elapsed = time.perf_counter() - started
        if not result.ok:
            click.echo(
                f"FAILED: audit entry #{result.first_bad_id}: {result.reason}\n"
                f"  {result.checked} entries before it are intact; the last intact entry is "
                f"#{result.last_id} hash {result.last_hash}",
                err=True,
            )
            sys.exit(1)
        if wanted is not None:
            anchor_id, anchor_hash = wanted
            stored = db.session.execute(
                select(AuditEntry.hash).where(AuditEntry.id == anchor_id)
            ).scalar_one_or_none()
            if stored != anchor_hash:
                state = "is missing" if stored is None else f"now has hash {stored}"
                click.echo(f"FAILED: anchor entry #{anchor_id} {state} (the newest entries were "
                           f"removed or the chain was rewritten)", err=True)
                sys.exit(1)
        click.echo(f"OK: {result.checked} audit entries verified in {elapsed:.2f} s")
        click.echo(f"last entry: #{result.last_id if result.last_id is not None else '-'} "
                   f"hash {result.last_hash}")
        click.echo("Record the count and the last id:hash outside the database; "
                   "check later with --anchor ID:HASH.")
