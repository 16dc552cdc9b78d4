"""A long import as a job (tracker.jobs.kinds "ledger_import"): the dry run again, then the
commit in one transaction, with a progress bar.

The dry run reads in a transaction of its own, reporting progress; the commit then begins
as a write (``core.db.writing``: IMMEDIATE on SQLite) and commits once — all or nothing. On
SQLite the progress bar stands still while the commit holds the write lock (a progress write
from another connection would wait for it); on PostgreSQL it moves every hundred rows.
"""
from __future__ import annotations

from tracker.core.db import writing
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.jobs.worker import JobContext, JobError


def run_import(ctx: JobContext) -> None:
    from tracker.ledger import storage
    from tracker.ledger.operations import commit_import, done_message, failed_message, plan_import, summarise
    from tracker.ledger.read import LedgerFileError
    from tracker.projects.operations import FieldErrors

    user = ctx.user
    if user is None or not user.is_active:
        raise JobError(_("您的账号已停用。"))
    token = str(ctx.params.get("token") or "")
    found = storage.load(token, user.id)
    if found is None:
        raise JobError(_("上传的文件已过期，请重新上传。"))
    meta, data = found
    ctx.progress(5, _("正在核对 %(name)s…", name=meta["filename"]))
    try:
        plan = plan_import(user, meta["filename"], data, unit_id=meta.get("unit_id"),
                           confirm_amounts=bool(meta.get("confirm_amounts")))
    except LedgerFileError as err:
        raise JobError(err.message) from None
    if not plan.ok:  # the data changed since the dry run: its page shows the file as it checks now
        storage.write_meta(token, {**meta, "summary": summarise(plan)})
        raise JobError(_("文件中有错误（%(n)d 处），没有导入任何数据：请返回预览查看并修改后重新上传。", n=len(plan.errors)))
    db.session.rollback()  # the check only read; the commit begins as a write
    total = len(plan.outcomes)
    ctx.progress(30, _("正在导入 %(n)d 行…", n=total))
    postgres = db.engine.dialect.name == "postgresql"

    def progress(done: int, of: int) -> None:
        if postgres and done:
            ctx.progress(30 + int(65 * done / max(of, 1)), _("正在导入：%(done)d / %(total)d 行", done=done, total=of))

    with writing():
        user = ctx.user  # again, in the write transaction
        try:
            counts = commit_import(user, plan, progress=progress)
        except FieldErrors as err:
            db.session.rollback()
            raise JobError(failed_message(err)) from None
        except Exception:
            db.session.rollback()
            raise
        db.session.commit()
    storage.remove(token)
    ctx.done_message = done_message(counts)
