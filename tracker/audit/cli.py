"""``flask audit verify | checkpoint | rekey``: check, anchor and re-key the audit log's chain."""
from __future__ import annotations

import sys
import time

import click
from flask import Flask

from tracker.core.db import write_intent
from tracker.extensions import db


def _anchor_option(value: str | None):
    from tracker.audit.anchors import parse_anchor

    if not value:
        return None
    try:
        return parse_anchor(value)
    except ValueError as err:
        raise click.BadParameter(f"{err}, e.g. 1234:3f2a…(64 hex digits)") from None


def _verified_or_exit(batch: int):
    """Run ``verify``; print the first broken entry and exit 1 when the chain is not intact."""
    from tracker.audit.verify import REASON_EDITED, verify

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
        if result.checked == 0 and result.reason == REASON_EDITED:
            click.echo("  (when the very first entry fails like this, check that AUDIT_KEY is the key "
                       "the log was written with)", err=True)
        sys.exit(1)
    return result, elapsed


def register(app: Flask) -> None:
    @app.cli.group("audit")
    def audit_group():
        """The append-only audit log."""

    @audit_group.command("verify")
    @click.option("--batch", default=5000, show_default=True, type=click.IntRange(min=1),
                  help="Entries read per query.")
    @click.option("--anchor", default=None, metavar="ID:HASH[:SIG]",
                  help="A checkpoint noted earlier; fails if that entry is gone or changed.")
    def audit_verify(batch: int, anchor: str | None):
        """Recompute every entry's keyed hash in order; report the first edited or forged entry.

        Deleting the newest entries leaves a consistent chain and can only be detected against
        an anchor kept outside the database: `flask audit checkpoint` prints one, and
        `--anchor ID:HASH[:SIG]` checks it.
        """
        from tracker.audit.anchors import anchor_problem

        wanted = _anchor_option(anchor)
        result, elapsed = _verified_or_exit(batch)
        if wanted is not None:
            problem = anchor_problem(wanted)
            if problem:
                click.echo(f"FAILED: {problem}", err=True)
                sys.exit(1)
        click.echo(f"OK: {result.checked} audit entries verified in {elapsed:.2f} s"
                   + (f"; anchor #{wanted.entry_id} found" if wanted else ""))
        click.echo(f"last entry: #{result.last_id if result.last_id is not None else '-'} "
                   f"hash {result.last_hash}")
        click.echo("Keep a checkpoint outside the database (`flask audit checkpoint`); "
                   "check later with --anchor.")

    @audit_group.command("checkpoint")
    @click.option("--batch", default=5000, show_default=True, type=click.IntRange(min=1),
                  help="Entries read per query.")
    def audit_checkpoint(batch: int):
        """Verify the chain, then print its newest entry as a signed ID:HASH:SIG.

        Keep the line where the database's writers cannot change it (a ticket, a mail to
        another host, a log shipped elsewhere); `flask audit verify --anchor LINE` later fails
        if that entry was removed or rewritten.
        """
        from tracker.audit.anchors import sign

        result, _elapsed = _verified_or_exit(batch)
        if result.last_id is None:
            raise click.ClickException("the audit log is empty: nothing to anchor yet")
        click.echo(str(sign(result.last_id, result.last_hash)))

    @audit_group.command("rekey")
    @click.option("--anchor", default=None, metavar="ID:HASH",
                  help="An ID:HASH noted before the upgrade: refuse unless it is still in the chain.")
    def audit_rekey(anchor: str | None):
        """Re-key a log hashed with plain SHA-256 (from before AUDIT_KEY) with the audit key.

        Checks the whole chain first and changes nothing unless it holds; run once, right
        after upgrading. Prints a checkpoint of the re-keyed chain.
        """
        from tracker.audit.anchors import sign
        from tracker.audit.models import AuditEntry
        from tracker.audit.operations import record
        from tracker.audit.rekey import RekeyRefused, rekey

        wanted = _anchor_option(anchor)
        write_intent.set(True)
        try:
            result = rekey(wanted)
        except RekeyRefused as err:
            db.session.rollback()
            click.echo(f"REFUSED: {err}. Nothing was changed.", err=True)
            sys.exit(1)
        if result.plain == 0:
            db.session.rollback()
            click.echo(f"Nothing to do: all {result.entries} entries are already keyed.")
            return
        record(None, "audit.rekey", db.session.get(AuditEntry, result.last_id),
               {"entries": result.entries, "plain": result.plain})
        db.session.commit()
        result2, _elapsed = _verified_or_exit(5000)
        click.echo(f"Re-keyed {result.plain} plain SHA-256 entries ({result.entries} in the chain); "
                   f"verified {result2.checked} entries.")
        click.echo("New checkpoint (old ID:HASH notes no longer match; keep this one instead):")
        click.echo(str(sign(result2.last_id, result2.last_hash)))
