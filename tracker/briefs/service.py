"""Producing briefs: project brief, ceremony booklet, signing-order sheet (PDF) and the HTML
preview. Views and the CLI call these; they read, never write."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context, render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker.auth.models import Unit
from tracker.briefs import content, glossary, pdf_cache
from tracker.briefs.render import (
    RendererBusy,
    RendererFailed,
    RenderResult,
    RenderTimeout,
    render_pdf,
)
from tracker.ceremonies.models import Ceremony, CeremonySigning
from tracker.core.formatting import today_local
from tracker.core.translations import gettext as _
from tracker.extensions import db
from tracker.projects.models import Investor, Project

DEFAULT_ISSUER = "台州市投资促进中心"
DEFAULT_BRIEF_TIMEOUT = 10.0  # seconds; a normal brief takes ~0.1 s
DEFAULT_BOOKLET_TIMEOUT = 25.0  # a booklet rendered while someone waits (the booklet job has its kind's limit)


def start_warm_up(app) -> threading.Thread:
    """Start this process's PDF worker pool in the background: each worker imports WeasyPrint,
    loads the prepared fonts and lays out a sample brief before its first task, so a worker's
    first brief costs what a warm one does. Call once per web process after it has started
    (wsgi.py; not before a fork, and not in one-off commands). The thread ends when one
    worker has rendered a sample brief."""

    def run():
        try:
            from tracker.briefs.render import render_task
            from tracker.jobs.pool import get_pool

            started = time.perf_counter()
            pool = get_pool(app)
            with app.app_context():
                args = (str(font_dir()), sample_brief_html())
            pool.run(render_task, args, timeout=120)
            app.logger.info("PDF workers warmed up in %.2f s", time.perf_counter() - started)
        except Exception:
            app.logger.exception("PDF worker warm-up failed")

    thread = threading.Thread(target=run, name="pdf-warm-up", daemon=True)
    thread.start()
    return thread


def warm_up_steps() -> list[tuple]:
    """What each new pool worker runs before its first task (in an app context): build the
    renderer for our font directory and lay out a sample brief."""
    from tracker.briefs.render import warm_up

    return [(warm_up, (str(font_dir()), sample_brief_html()))]


def sample_brief_html() -> str:
    """A brief of made-up data (no database needed), for warming the renderer up."""
    sample = content.Brief(
        project_id=0, name="台州湾新区智能驾驶域控制器项目", investor="上海智行域控科技有限公司",
        investor_intro="智能驾驶域控制器企业。", country="中国", region="上海", industry="未来汽车",
        unit="台州湾新区", platform="台州高新技术产业园区", stage_code="construction",
        signed_on=date(2024, 12, 20), contracted=Decimal(110000), fixed_asset=Decimal(80000),
        foreign_usd=None, land_mu=Decimal(90), content="年产80万套智能驾驶域控制器。",
        expected_output=Decimal(260000), expected_tax=Decimal(13000), expected_jobs=500,
        designations=["省重大产业项目"],
        milestones=[content.Milestone("signed", "", date(2024, 12, 20), date(2024, 12, 20))],
        signing=content.Signing(1, "签约仪式", date(2024, 12, 20), "台州市行政中心", "朱嘉诚", "宋佳明"),
    )
    with force_locale("zh_CN"):
        return render_template("briefs/brief_pdf.html", brief=sample,
                               h=Helpers(issuer=DEFAULT_ISSUER, today=date(2024, 12, 20)), bilingual=False)


def font_dir() -> Path:
    configured = current_app.config.get("BRIEF_FONT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "fonts"


def issuer_name(user: Any = None) -> str:
    """The masthead: the unit that prints. A county or park user's own unit (黄岩区 staff print
    under 黄岩区's name); for city users BRIEF_ISSUER, else their own (city) unit; with no
    printing user (the command line) BRIEF_ISSUER, else the first city unit."""
    unit = getattr(user, "unit", None) if user is not None else None
    if unit is not None and not unit.is_city and unit.name:
        return unit.name
    configured = current_app.config.get("BRIEF_ISSUER")
    if configured:
        return configured
    if unit is not None and unit.name:  # a city user's unit is the city (loaded with the user)
        return unit.name
    name = db.session.execute(
        select(Unit.name).where(Unit.is_city.is_(True)).order_by(Unit.sort_order, Unit.id).limit(1)
    ).scalar_one_or_none()
    return name or DEFAULT_ISSUER


@dataclass
class Helpers:
    """What the brief templates may call (formatting that never depends on the UI locale)."""

    issuer: str
    today: date
    internal: bool = False  # print the 内部资料 注意保密 mark

    yi = staticmethod(content.yi)
    wan = staticmethod(content.wan)
    yi_text = staticmethod(content.yi_text)
    amount_text = staticmethod(content.amount_text)
    wrap_name = staticmethod(content.wrap_name)
    cn_number = staticmethod(content.cn_number)
    cn_date = staticmethod(content.cn_date)
    en_date = staticmethod(content.en_date)
    en_money = staticmethod(content.en_money)
    en = staticmethod(glossary.en)
    unit_en = staticmethod(glossary.unit_en)  # the masthead unit's name_en, else the glossary

    @staticmethod
    def iso_date(value: date | None) -> str:
        return value.isoformat() if value else ""

    @staticmethod
    def designation_en(name: str) -> str:
        return glossary.DESIGNATIONS_EN.get(name, "")

    @staticmethod
    def mu_en(mu: Decimal) -> str:
        hectares = (Decimal(mu) / Decimal(15)).quantize(Decimal("0.01"))
        return f"{content.wan(mu)} mu ({hectares:,} ha)"

    @staticmethod
    def usd_en(wan_usd: Decimal) -> str:
        return f"USD {(Decimal(wan_usd) / 100).quantize(Decimal('0.01')):,} million"


def helpers(user: Any = None, *, internal: bool = False) -> Helpers:
    """``user``: who prints (default: the signed-in user of this request, if any)."""
    if user is None and has_request_context():
        from flask_login import current_user

        user = current_user if getattr(current_user, "is_authenticated", False) else None
    return Helpers(issuer=issuer_name(user), today=today_local(), internal=bool(internal))


def milestones_by_project(project_ids: list[int]) -> dict[int, list]:
    """Each project's milestones (rows with stage, planned_on, actual_on) in stage order, one
    query."""
    from tracker.workflow.operations import milestone_rows
    from tracker.workflow.stages import BY_CODE

    out: dict[int, list] = {pid: [] for pid in project_ids}
    if not project_ids:
        return out
    for m in milestone_rows(project_ids):
        out.setdefault(m.project_id, []).append(m)

    def order(m):
        stage = BY_CODE.get(m.stage)
        return (stage is None or stage.is_side, stage.order if stage else 99, m.planned_on or m.actual_on or date.max)

    for items in out.values():
        items.sort(key=order)
    return out


def project_brief(project: Project, *, milestones=None) -> content.Brief:
    if milestones is None:
        milestones = milestones_by_project([project.id])[project.id]
    return content.build_brief(project, project.signing, milestones=milestones)


# What a brief prints of a project's relations, besides its signing (loader options).
PRINTED = (joinedload(Project.investor).joinedload(Investor.source_region), joinedload(Project.industry),
           joinedload(Project.unit), joinedload(Project.platform))


def load_ceremony_signings(ceremony: Ceremony) -> list[CeremonySigning]:
    """The ceremony's signings with everything a booklet prints, in one round of queries."""
    return list(db.session.execute(
        select(CeremonySigning)
        .options(joinedload(CeremonySigning.project).options(*PRINTED), joinedload(CeremonySigning.ceremony))
        .where(CeremonySigning.ceremony_id == ceremony.id)
        .order_by(CeremonySigning.position, CeremonySigning.id)
    ).scalars().all())


def _timeout(key: str, default: float) -> float:
    try:
        return float(current_app.config.get(key, default))
    except (TypeError, ValueError):
        return default


def render_document(template: str, timeout: float, *, cache: str | None = None, **context: Any) -> RenderResult:
    """The PDF of ``template``; with ``cache``, one rendered before from the same HTML is
    reused from that shelf of ``pdf_cache`` (booklets and order sheets: seconds of layout
    each; briefs: printed again and again before a signing)."""
    # Briefs are official Chinese documents: their labels are Chinese whatever the UI language.
    with force_locale("zh_CN"):
        html = render_template(template, **context)
    digest = pdf_cache.key(html) if cache and pdf_cache.enabled(cache) else None
    if digest is not None:
        found = pdf_cache.load(digest, cache)
        if found is not None:
            return RenderResult(pdf=found[0], pages=found[1], seconds=0.0)
    try:
        result = render_pdf(html, font_dir=font_dir(), timeout=timeout)
        if digest is not None and not result.missing and not result.denied:
            pdf_cache.store(digest, result.pdf, result.pages, cache)
        return result
    except RenderTimeout:
        raise RenderTimeout(_(
            "生成 PDF 超过 %(n)d 秒仍未完成，已停止，以免占用服务器。请精简内容（如过长的文字）后重试，或联系系统管理员。",
            n=int(timeout),
        )) from None
    except RendererBusy:
        raise RendererBusy(_("PDF 生成服务繁忙，请稍后再试。")) from None
    except RendererFailed:
        raise RendererFailed(_("PDF 生成服务意外中断，请重试。")) from None


def brief_pdf(project: Project, *, bilingual: bool = False, milestones=None, user: Any = None,
              internal: bool = False) -> RenderResult:
    brief = project_brief(project, milestones=milestones)
    return render_document("briefs/brief_pdf.html", _timeout("BRIEF_RENDER_TIMEOUT", DEFAULT_BRIEF_TIMEOUT),
                           cache="briefs", brief=brief, h=helpers(user, internal=internal), bilingual=bilingual)


def ceremony_booklet(ceremony: Ceremony) -> content.Booklet:
    signings = load_ceremony_signings(ceremony)
    if len(signings) > content.MAX_BOOKLET_PROJECTS:
        return content.build_booklet(ceremony, signings)  # raises the clear error
    milestones = milestones_by_project([s.project_id for s in signings])
    return content.build_booklet(ceremony, signings, milestones=milestones)


def booklet_pdf(ceremony: Ceremony, booklet: content.Booklet | None = None, *, user: Any = None,
                internal: bool = False) -> RenderResult:
    booklet = ceremony_booklet(ceremony) if booklet is None else booklet
    return render_document("briefs/booklet_pdf.html", _timeout("BOOKLET_RENDER_TIMEOUT", DEFAULT_BOOKLET_TIMEOUT),
                           cache="booklets", booklet=booklet, h=helpers(user, internal=internal), bilingual=False)


def order_booklet(ceremony: Ceremony) -> content.Booklet:
    """What the signing-order sheet prints (no milestones needed)."""
    return content.build_booklet(ceremony, load_ceremony_signings(ceremony), milestones={})


def order_pdf(ceremony: Ceremony, booklet: content.Booklet | None = None, *, user: Any = None,
              internal: bool = False) -> RenderResult:
    booklet = order_booklet(ceremony) if booklet is None else booklet
    return render_document("briefs/order_pdf.html", _timeout("BRIEF_RENDER_TIMEOUT", DEFAULT_BRIEF_TIMEOUT),
                           cache="booklets", booklet=booklet, h=helpers(user, internal=internal), bilingual=False)


_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def pdf_filename(*parts: str) -> str:
    """A download name from Chinese text (kept: Content-Disposition carries it as filename*)."""
    stem = "-".join(p for p in (_UNSAFE_NAME.sub("", part).strip() for part in parts) if p)
    return (stem[:80] or "brief") + ".pdf"
