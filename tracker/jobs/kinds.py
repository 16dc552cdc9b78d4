"""The kinds of job, in one table: what each is called, which function does the work (in a
worker process) and how long it may take before its worker is killed.

A new bulk job (an Excel export, an import of many rows, reminders) is one row here plus its
function ``fn(ctx: worker.JobContext) -> worker.JobOutput | None``.
"""
from __future__ import annotations

from dataclasses import dataclass

from tracker.core.translations import lazy_gettext as _l


@dataclass(frozen=True)
class Kind:
    code: str
    label: object  # lazy string: "签约项目简介汇编"
    target: str  # "package.module:function", imported in the worker process
    time_limit: float  # seconds of running before the worker is killed


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.code] = kind
    return kind


def get(code: str) -> Kind | None:
    return KINDS.get(code)


register(Kind("booklet", _l("签约项目简介汇编"), "tracker.briefs.jobs:make_booklet", time_limit=180))
register(Kind("order_sheet", _l("签约顺序表"), "tracker.briefs.jobs:make_order_sheet", time_limit=60))
register(Kind("bulletin", _l("招商引资项目推进情况通报"), "tracker.reports.bulletin:make_bulletin", time_limit=180))
register(Kind("ledger_import", _l("导入台账"), "tracker.ledger.jobs:run_import", time_limit=600))
