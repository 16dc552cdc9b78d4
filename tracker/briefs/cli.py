"""``flask briefs ...`` commands (PDF briefs and booklets).

The commands render in their own process (``render.rendering_here``): one document, nobody
else to protect, Ctrl-C stops it; the web app renders in its worker pool instead.

    flask briefs fonts                      prepare the brief fonts into instance/fonts (set-up)
    flask briefs check                      is the fast path in place? renders a test brief
    flask briefs project ID -o FILE [--bilingual]
    flask briefs ceremony ID -o FILE [--order]
"""
from __future__ import annotations

import sys
from pathlib import Path

import click


def _write(result, output: str) -> None:
    if output == "-":
        sys.stdout.buffer.write(result.pdf)
        sys.stdout.buffer.flush()
    else:
        Path(output).write_bytes(result.pdf)
    click.echo(f"{result.pages} page(s), {len(result.pdf) // 1024} KB, {result.seconds:.2f} s"
               + (f" → {output}" if output != "-" else ""), err=True)
    if result.missing:
        click.echo(f"warning: no glyph for {''.join(sorted(result.missing))!r}", err=True)


def register(app) -> None:
    @app.cli.group("briefs")
    def briefs_group():
        """PDF project briefs, ceremony booklets and their fonts."""

    @briefs_group.command("fonts")
    @click.option("--force", is_flag=True, help="Rebuild even when up to date.")
    @click.option("--dir", "dest", type=click.Path(file_okay=False), default=None,
                  help="Target directory (default: BRIEF_FONT_DIR or instance/fonts).")
    def fonts_command(force, dest):
        """Prepare the brief fonts from the installed Noto CJK fonts (idempotent)."""
        from tracker.briefs import fonts, service

        target = Path(dest) if dest else service.font_dir()
        try:
            files = fonts.build(target, force=force, echo=click.echo)
        except fonts.FontSetupError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"Brief fonts ready: {len(files)} files in {target}")

    @briefs_group.command("check")
    def check_command():
        """Check the PDF fast path (HarfBuzz subsetting, prepared fonts, rare characters)."""
        from weasyprint.text import ffi as wp_ffi

        from tracker.briefs import fonts, service
        from tracker.briefs.render import BriefError, get_renderer, render_pdf
        from tracker.jobs.pool import shutdown_pool

        ok = True
        if wp_ffi.harfbuzz_subset is None:
            ok = False
            click.echo("FAIL libharfbuzz-subset0 not found: install it with apt-get")
        else:
            click.echo("ok   HarfBuzz subsetting available")
        files = fonts.manifest_files(service.font_dir())
        if files:
            click.echo(f"ok   prepared fonts: {len(files)} files in {service.font_dir()}")
        else:
            click.echo(f"warn prepared fonts missing in {service.font_dir()}: run `flask briefs fonts`")
        renderer = get_renderer(service.font_dir())
        sample = "龘堃喆𠮷台州"
        html = (
            f'<html><body class="brief-doc pdf"><h1 class="title">{sample}</h1>'
            f'<p class="text">{sample}</p><h2>项目概况</h2></body></html>'
        )
        result = renderer.render(html)
        if result.slow_path:
            ok = False
            click.echo("FAIL WeasyPrint took the slow fontTools path")
        if result.missing:
            ok = False
            click.echo(f"FAIL no glyph for {''.join(sorted(result.missing))!r}")
        else:
            click.echo(f"ok   rare characters render ({sample}); test page {result.seconds:.2f} s, "
                       f"{len(result.pdf) // 1024} KB")
        try:  # the web app's way: a warm worker process of the pool
            pooled = render_pdf(html, font_dir=service.font_dir(), timeout=60)
            click.echo(f"ok   worker pool renders (worker process {pooled.pid})")
        except BriefError as err:
            ok = False
            click.echo(f"FAIL worker pool: {err.message}")
        finally:
            shutdown_pool()
        if not ok:
            raise click.ClickException("PDF briefs are not set up correctly")

    @briefs_group.command("project")
    @click.argument("project_id", type=int)
    @click.option("-o", "--output", required=True, help="Output PDF file ('-' for stdout).")
    @click.option("--bilingual", is_flag=True, help="Chinese/English variant.")
    def project_command(project_id, output, bilingual):
        """Write a project's brief (PDF)."""
        from tracker.briefs import service
        from tracker.briefs.render import BriefError, rendering_here
        from tracker.extensions import db
        from tracker.projects.models import Project

        project = db.session.get(Project, project_id)
        if project is None:
            raise click.ClickException(f"No project with id {project_id}")
        try:
            with rendering_here():
                result = service.brief_pdf(project, bilingual=bilingual)
        except BriefError as err:
            raise click.ClickException(err.message) from None
        _write(result, output)

    @briefs_group.command("ceremony")
    @click.argument("ceremony_id", type=int)
    @click.option("-o", "--output", required=True, help="Output PDF file ('-' for stdout).")
    @click.option("--order", "order_sheet", is_flag=True, help="The signing-order sheet instead of the booklet.")
    def ceremony_command(ceremony_id, output, order_sheet):
        """Write a ceremony's booklet (or its signing-order sheet) as PDF."""
        from tracker.briefs import service
        from tracker.briefs.render import BriefError, rendering_here
        from tracker.ceremonies.models import Ceremony
        from tracker.extensions import db

        ceremony = db.session.get(Ceremony, ceremony_id)
        if ceremony is None:
            raise click.ClickException(f"No ceremony with id {ceremony_id}")
        try:
            with rendering_here():
                result = service.order_pdf(ceremony) if order_sheet else service.booklet_pdf(ceremony)
        except BriefError as err:
            raise click.ClickException(err.message) from None
        _write(result, output)
