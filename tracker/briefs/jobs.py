"""The ceremony booklet and signing-order sheet as jobs (see tracker.jobs.kinds): they run in a
worker process, report progress, and leave the PDF for the job page's download.

The ceremony is looked up again and the job's user must still be allowed to see it (the
screen checked it when the job was queued; a job may wait in the queue).
"""
from __future__ import annotations

from tracker.briefs import service
from tracker.ceremonies.models import Ceremony
from tracker.core.permissions import can, ceremony_fully_visible
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.jobs.worker import JobContext, JobError, JobOutput


def _ceremony(ctx: JobContext) -> Ceremony:
    ceremony = db.session.get(Ceremony, ctx.params.get("ceremony_id"))
    user = ctx.user
    if (ceremony is None or user is None or not user.is_active or not can("ceremony.view", ceremony, user=user)
            or not ceremony_fully_visible(user, ceremony)):  # the same check as the buttons
        raise JobError(_("该签约仪式已不存在，或您已无权查看。"))
    return ceremony


def make_booklet(ctx: JobContext) -> JobOutput:
    ceremony = _ceremony(ctx)
    ctx.progress(5, _("正在读取签约项目…"))
    booklet = service.ceremony_booklet(ceremony)
    ctx.progress(20, _("正在排版 %(n)d 个项目的简介…", n=len(booklet.briefs)))
    # The masthead names the submitter's unit; the 内部资料 mark only when they asked for it.
    result = service.booklet_pdf(ceremony, booklet, user=ctx.user, internal=bool(ctx.params.get("internal")))
    ctx.progress(95, _("正在保存（%(pages)d 页）…", pages=result.pages))
    return JobOutput(result.pdf, service.pdf_filename(ceremony.name, "签约项目简介汇编"))


def make_order_sheet(ctx: JobContext) -> JobOutput:
    ceremony = _ceremony(ctx)
    ctx.progress(10, _("正在读取签约顺序…"))
    booklet = service.order_booklet(ceremony)
    ctx.progress(40, _("正在排版…"))
    result = service.order_pdf(ceremony, booklet, user=ctx.user, internal=bool(ctx.params.get("internal")))
    return JobOutput(result.pdf, service.pdf_filename(ceremony.name, "签约顺序表"))
