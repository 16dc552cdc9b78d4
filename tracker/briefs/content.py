"""What a brief says: plain data read from a project (and its ceremony), checked for size.

Rendering reads only these objects, never the ORM, so a template cannot trigger lazy loads
and every text that reaches the layout engine has passed the size limits below. Input beyond
them gets a clear error before any layout starts (a 10,000-character name with no spaces, a
project with hundreds of milestones, a ceremony with hundreds of projects), so a worker is
never tied up by a pathological record.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from markupsafe import Markup, escape

from tracker.briefs import glossary
from tracker.briefs.render import BriefError
from tracker.core.formatting import money_en
from tracker.core.translations import gettext as _
from tracker.workflow import stages

# Characters per field (the forms' own limits, with room for data that came another way).
LIMITS = {
    "name": 100,
    "investor": 100,
    "introduction": 2000,
    "content": 2000,
    "short": 120,  # reference names, venue, ceremony name
    "signatory": 60,
    "witnesses": 200,
}
MULTILINE = {"introduction", "content"}
MAX_MILESTONES = 40
MAX_BOOKLET_PROJECTS = 100


class BriefInputError(BriefError):
    """The record is too large to lay out; ``message`` says which field and what to do."""


def _text(value: Any, limit_key: str, label: str, owner: str = "") -> str:
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if limit_key not in MULTILINE:
        # Single-line fields share tab-aligned lines in the layout: no tabs or breaks inside.
        text = " ".join(text.split())
    limit = LIMITS[limit_key]
    if len(text) > limit:
        raise BriefInputError(_(
            "%(owner)s%(field)s过长（%(n)d 字，上限 %(max)d 字），无法排版为简介。请先在系统中修改后再生成。",
            owner=f"“{_clip(owner)}”的" if owner else "", field=label, n=len(text), max=limit,
        ))
    return text


def _clip(text: str, n: int = 20) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _plain(amount: Decimal) -> str:
    """A number as a 公文 prints it: no thousands separators, only the decimals needed
    (100 not 100.00, 5.2 not 5.20)."""
    text = f"{amount:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def yi(value: Decimal | int | None) -> str:
    """万元 → 亿元 figure, up to two decimals, as needed: 1000000 → '100', 52000 → '5.2'."""
    if value is None:
        return ""
    return _plain((Decimal(value) / Decimal(10000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def wan(value: Decimal | int | None) -> str:
    """A 万元 (or 亩, 万美元) figure, up to two decimals, no separators: 40000 → '40000'."""
    if value is None:
        return ""
    return _plain(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def yi_text(value: Decimal | int | None) -> str:
    """万元 → '5.2亿元' (the one way print states an investment); '—' when unknown."""
    return "—" if value is None else f"{yi(value)}亿元"


def amount_text(value: Decimal | int | None) -> str:
    """万元 → one unit chosen by size: '5.2亿元' from 1亿元 up, else '800万元'; '—' when unknown.
    Each figure carries its own unit, so a line never mixes a bare 亿元 and 万元 column."""
    if value is None:
        return "—"
    if abs(Decimal(value)) >= Decimal(10000):
        return yi_text(value)
    return f"{wan(value)}万元"


# Where a company or project name may break across lines in a narrow table cell: before these
# words (a legal-form or trade suffix) and around brackets, never inside one of them.
_NAME_BREAKS = re.compile(
    r"(?=（|\(|股份有限公司|有限责任公司|有限公司|集团|科技|能源|新材料|智能|电气|电子|汽车|机械|制造|医药|项目$)"
    r"|(?<=）)|(?<=\))"
)
_NAME_SEGMENT_MAX = 10  # a longer piece is left breakable (it could not fit a cell whole)


def name_segments(name: str) -> list[str]:
    """``name`` cut where a line may break: '江苏清陶能源科技有限公司' →
    ['江苏清陶', '能源', '科技', '有限公司']."""
    return [part for part in _NAME_BREAKS.split(name or "") if part]


def wrap_name(name: str) -> Markup:
    """A name for a narrow table cell: each short segment unbreakable (no '有限公 / 司')."""
    out = []
    for part in name_segments(name):
        if len(part) <= _NAME_SEGMENT_MAX:
            out.append(Markup('<span class="nw">%s</span>') % part)
        else:
            out.append(escape(part))
    return Markup("").join(out)


_CN_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十 (round numbers; others as digits)."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _CN_DIGITS[tens] + "十")
    return head + (_CN_DIGITS[ones] if ones else "")


def en_money(value_wan: Decimal | int | None) -> str:
    """万元 → the English screens' wording ('¥5.2 billion', 'RMB 52 million'), '' when unknown:
    one way of stating an amount in English across the app and its briefs."""
    if value_wan is None:
        return ""
    return money_en(value_wan)


def cn_date(value: date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else ""


def en_date(value: date | None) -> str:
    return f"{value.day} {value:%B} {value.year}" if value else ""


def stage_en(code: str) -> str:
    """A stage's one English name (``Stage.english``, as on the English screens)."""
    stage = stages.BY_CODE.get(code)
    return stage.english if stage else ""


@dataclass
class Milestone:
    code: str  # stage code; the template prints its label in the brief's language
    label: str  # a custom label, when the milestone has one
    planned: date | None
    actual: date | None

    @property
    def label_en(self) -> str:
        return stage_en(self.code)


@dataclass
class Signing:
    position: int
    ceremony: str
    held_on: date | None
    venue: str
    signatory_local: str
    signatory_investor: str
    signatory_local_title: str = ""
    signatory_investor_title: str = ""
    round_no: int = 1


@dataclass
class Brief:
    project_id: int | None
    name: str
    investor: str
    investor_intro: str
    country: str
    region: str
    industry: str
    unit: str
    platform: str
    stage_code: str
    signed_on: date | None
    contracted: Decimal | None  # 万元
    fixed_asset: Decimal | None
    foreign_usd: Decimal | None  # 万美元
    land_mu: Decimal | None
    content: str
    expected_output: Decimal | None
    expected_tax: Decimal | None
    expected_jobs: int | None
    designations: list[str] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    signing: Signing | None = None

    # English names of the reference data (for the bilingual variant): the rows' ``name_en``,
    # as the English screens show them, else the glossary's name; '' when neither is known.
    region_en: str = ""
    industry_en: str = ""
    unit_en: str = ""
    platform_en: str = ""

    @property
    def stage_en(self) -> str:
        return stage_en(self.stage_code)

    @property
    def is_foreign(self) -> bool:
        return bool(self.country) and self.country not in ("中国", "中华人民共和国")


def _designations(project) -> list[str]:
    out = []
    if project.is_provincial_major:
        out.append("省重大产业项目")
    if project.is_qianxiang_wanyi:
        out.append("千项万亿")
    if project.is_yrd_major:
        out.append("长三角重大项目库")
    return out


def _milestones(project, given: Iterable[Any] | None) -> list[Milestone]:
    """Milestones (objects with ``stage``, ``planned_on``, ``actual_on`` — workflow.Milestone
    rows, in order); when there are none, the signing date alone."""
    items = list(given or [])
    if len(items) > MAX_MILESTONES:
        raise BriefInputError(_(
            "项目“%(name)s”有 %(n)d 个进度节点，超过简介可排版的 %(max)d 个。请精简节点后再生成。",
            name=_clip(str(project.name or "")), n=len(items), max=MAX_MILESTONES,
        ))
    out = []
    for m in items:
        out.append(Milestone(
            code=str(getattr(m, "stage", "") or ""),
            label=_text(getattr(m, "label", "") or "", "short", _("节点名称")),
            planned=getattr(m, "planned_on", None),
            actual=getattr(m, "actual_on", None),
        ))
    if not out and project.signed_on:
        out.append(Milestone("signed", "", None, project.signed_on))
    return out


def build_brief(project, signing=None, *, milestones: Iterable[Any] | None = None) -> Brief:
    """The brief of a project. ``signing`` is its CeremonySigning, if any (with .ceremony)."""
    raw_name = "" if project.name is None else str(project.name)
    name = _text(raw_name, "name", _("项目名称"))
    owner = name
    investor = project.investor
    region = investor.source_region if investor is not None else None
    sign = None
    if signing is not None:
        ceremony = signing.ceremony
        sign = Signing(
            position=signing.position,
            ceremony=_text(ceremony.name, "short", _("签约仪式名称"), owner),
            held_on=ceremony.held_on,
            venue=_text(ceremony.venue, "short", _("签约地点"), owner),
            signatory_local=_text(signing.signatory_local, "signatory", _("我方签约人"), owner),
            signatory_investor=_text(signing.signatory_investor, "signatory", _("投资方签约人"), owner),
            signatory_local_title=_text(getattr(signing, "signatory_local_title", ""), "signatory",
                                        _("我方签约人职务"), owner),
            signatory_investor_title=_text(getattr(signing, "signatory_investor_title", ""), "signatory",
                                           _("投资方签约人职务"), owner),
            round_no=getattr(signing, "round_no", None) or 1,
        )
    return Brief(
        project_id=project.id,
        name=name,
        investor=_text(investor.name if investor else "", "investor", _("投资方名称"), owner),
        investor_intro=_text(investor.introduction if investor else "", "introduction", _("投资方简介"), owner),
        country=_text(investor.country if investor else "", "short", _("国家或地区"), owner),
        region=_text(region.name if region else "", "short", _("来源地"), owner),
        industry=_text(project.industry.name if project.industry else "", "short", _("产业"), owner),
        unit=_text(project.unit.name if project.unit else "", "short", _("落户地"), owner),
        platform=_text(project.platform.name if project.platform else "", "short", _("园区/平台"), owner),
        stage_code=project.stage,
        signed_on=project.signed_on,
        contracted=project.contracted_investment,
        fixed_asset=project.fixed_asset_investment,
        foreign_usd=project.foreign_investment_usd,
        land_mu=project.land_area_mu,
        content=_text(project.content, "content", _("建设内容"), owner),
        expected_output=project.expected_output,
        expected_tax=project.expected_tax,
        expected_jobs=project.expected_jobs,
        designations=_designations(project),
        milestones=_milestones(project, milestones),
        signing=sign,
        region_en=_text(glossary.reference_en(region), "short", _("来源地"), owner),
        industry_en=_text(glossary.reference_en(project.industry), "short", _("产业"), owner),
        unit_en=_text(glossary.reference_en(project.unit), "short", _("落户地"), owner),
        platform_en=_text(glossary.reference_en(project.platform), "short", _("园区/平台"), owner),
    )


@dataclass
class Round:
    """One signing round (批次): the leaders who witness it and the projects signed in it."""

    number: int
    witnesses: str
    briefs: list[Brief]


@dataclass
class Subtotal:
    unit: str
    count: int
    amount: Decimal  # 万元


@dataclass
class Booklet:
    ceremony_id: int | None
    name: str
    held_on: date | None
    venue: str
    host: str
    briefs: list[Brief]
    witnesses: dict[int, str] = field(default_factory=dict)  # round number → witnesses

    @property
    def total(self) -> Decimal:
        return sum((b.contracted or Decimal(0) for b in self.briefs), Decimal(0))

    @property
    def rounds(self) -> list[Round]:
        """The briefs grouped by signing round, in signing order (briefs are sorted by round)."""
        out: list[Round] = []
        for b in self.briefs:
            number = b.signing.round_no if b.signing else 1
            if not out or out[-1].number != number:
                out.append(Round(number, self.witnesses.get(number, ""), []))
            out[-1].briefs.append(b)
        return out

    @property
    def subtotals(self) -> list[Subtotal]:
        """Projects and 协议投资额 per unit (落户地), in the order units first appear."""
        by_unit: dict[str, Subtotal] = {}
        for b in self.briefs:
            sub = by_unit.setdefault(b.unit, Subtotal(b.unit, 0, Decimal(0)))
            sub.count += 1
            sub.amount += b.contracted or Decimal(0)
        return list(by_unit.values())


def build_booklet(ceremony, signings: list | None = None, *,
                  milestones: dict[int, list] | None = None) -> Booklet:
    """The booklet of a ceremony: its projects in signing order. ``milestones`` maps project
    ids to their milestones (``{}``: print none, e.g. for the order sheet)."""
    signings = list(ceremony.signings if signings is None else signings)
    name = _text(ceremony.name, "short", _("签约仪式名称"))
    if len(signings) > MAX_BOOKLET_PROJECTS:
        raise BriefInputError(_(
            "签约仪式“%(name)s”有 %(n)d 个项目，超过一本汇编可排版的 %(max)d 个。请分批生成。",
            name=_clip(name), n=len(signings), max=MAX_BOOKLET_PROJECTS,
        ))
    # Rounds go on stage in turn: the signing order is by round, then by position.
    signings.sort(key=lambda s: (getattr(s, "round_no", None) or 1, s.position, s.id or 0))
    briefs = [build_brief(s.project, s, milestones=None if milestones is None else milestones.get(s.project_id, []))
              for s in signings]
    for i, b in enumerate(briefs, start=1):
        if b.signing is not None:
            b.signing.position = i
    return Booklet(
        ceremony_id=ceremony.id,
        name=name,
        held_on=ceremony.held_on,
        venue=_text(ceremony.venue, "short", _("签约地点")),
        host=_text(ceremony.unit.name if ceremony.unit else "", "short", _("主办单位")),
        briefs=briefs,
        witnesses=_witnesses(ceremony, {b.signing.round_no for b in briefs if b.signing}),
    )


def _witnesses(ceremony, rounds: set[int]) -> dict[int, str]:
    lines = str(getattr(ceremony, "round_witnesses", "") or "").split("\n")
    out = {}
    for number in sorted(rounds):
        if 0 < number <= len(lines):
            out[number] = _text(lines[number - 1], "witnesses", _("见证领导"))
    return out
