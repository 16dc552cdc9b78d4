"""``flask progress refresh``: rebuild what is derived from the stage history."""
from __future__ import annotations

import click
from flask import Flask


def register(app: Flask) -> None:
    @app.cli.group("progress")
    def progress_group():
        """Stage history and lights."""

    @progress_group.command("refresh")
    def refresh_command():
        """Write the stage history of projects that have none (loaded or imported without
        the operations) and recompute every project's lights (due and red dates) from the
        stage deadlines. Idempotent; safe while the app runs."""
        from tracker.audit.operations import record_many
        from tracker.core.db import write_intent
        from tracker.extensions import db
        from tracker.progress import history, lights

        token = write_intent.set(True)
        try:
            written = history.backfill(db.session)
            changed = lights.refresh(db.session)
            if written or changed:
                # Audited like every change: the entry also moves the version the pages'
                # kept figures and rows follow (tracker.core.datacache), in every process.
                record_many(None, "progress.refresh", "system",
                            [(0, None, {"stage_history_written": written, "lights_changed": changed})])
            db.session.commit()
        finally:
            write_intent.reset(token)
        click.echo(f"stage history written for {written} project(s); lights changed on {changed} project(s)")
