"""The 台账 (ledger) columns: the one table export, import and the blank template read.

Each column has the header the export writes (Chinese; English in the English UI), the
headers an office's own ledger may use for it (synonyms), and, for money, the unit the
header may carry: "协议投资额（亿元）" converts to 万元 on import.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from tracker.core.translations import lazy_gettext as _l
from tracker.workflow.stages import MILESTONE_CODES


@dataclass(frozen=True)
class Column:
    key: str  # the input field (tracker.projects.schemas.ProjectFields) or a ledger-only key
    header: object  # lazy: the export's header, translated for the English UI
    synonyms: tuple[str, ...] = ()
    kind: str = "text"  # text | money | date | flag | stage | int | area | id | seq
    width: int = 14  # export column width (characters)
    importable: bool = True
    stage: str = ""  # milestone columns: the stage whose planned/actual date this is

    def title(self) -> str:
        """The header as exported, in the current UI language."""
        if not self.stage:
            return str(self.header)
        from tracker.workflow.stages import label

        return f"{label(self.stage)}（{self.header}）" if _is_zh() else f"{label(self.stage)} ({self.header})"


def _is_zh() -> bool:
    from flask_babel import get_locale

    locale = get_locale()
    return locale is None or locale.language == "zh"


# How ledgers name each milestone: 计划开工时间 / 实际开工日期 / 开工时间 (an actual date).
_MILESTONE_VERBS = {"registered": ("注册", "工商注册", "注册登记"), "land_secured": ("供地", "土地摘牌", "拿地"),
                    "construction": ("开工",), "completed": ("竣工",), "production": ("投产",),
                    "full_capacity": ("达产",)}


def _milestone_columns(code: str) -> tuple[Column, Column]:
    verbs = _MILESTONE_VERBS[code]
    planned = tuple(f"计划{v}{t}" for v in verbs for t in ("时间", "日期"))
    actual = tuple(f"{p}{v}{t}" for v in verbs for t in ("时间", "日期") for p in ("实际", ""))
    return (Column(f"planned.{code}", _l("计划"), planned, "date", 12, stage=code),
            Column(f"actual.{code}", _l("实际"), actual, "date", 12, stage=code))


MONEY_UNITS = {"万元": "wan", "亿元": "yi", "万": "wan", "亿": "yi",
               "10k cny": "wan", "100m cny": "yi"}  # the English export's headers

COLUMNS: tuple[Column, ...] = (
    Column("seq", _l("序号"), ("编号", "No", "No."), "seq", 6, importable=False),
    Column("name", _l("项目名称"), ("项目", "项目名", "签约项目", "项目全称"), width=34),
    Column("investor_name", _l("投资方"), ("投资主体", "投资企业", "签约企业", "企业名称", "投资方名称", "签约主体"),
           width=30),
    Column("investor_uscc", _l("统一社会信用代码"), ("信用代码", "社会信用代码", "投资方统一社会信用代码"), width=22),
    Column("source_region_id", _l("来源地"), ("投资方来源地", "来源", "资金来源地", "客商来源地"), width=10),
    Column("industry_id", _l("产业"), ("产业类别", "所属产业", "行业", "产业类型", "所属行业"), width=14),
    Column("unit_id", _l("落户地"), ("所在地", "县（市、区）", "县市区", "属地", "落户单位", "单位"), width=10),
    Column("platform_id", _l("园区/平台"), ("园区", "平台", "所在园区", "落户园区", "园区平台"), width=16),
    Column("contracted_investment", _l("协议投资额"), ("总投资", "计划总投资", "投资额", "协议投资", "总投资额",
                                                     "协议总投资"), "money", 14),
    Column("funds_in_place", _l("到位资金"), ("实际到位资金", "累计到位资金", "已到位资金"), "money", 12),
    Column("signed_on", _l("签约日期"), ("签约时间",), "date", 12),
    Column("stage", _l("阶段"), ("项目进度", "进展阶段", "当前阶段", "项目阶段", "进度"), "stage", 10),
    *(c for code in MILESTONE_CODES[1:] for c in _milestone_columns(code)),
    Column("owner_id", _l("责任人"), ("招商专员", "项目责任人", "负责人"), width=10),
    Column("content", _l("建设内容"), ("项目内容", "主要建设内容", "建设规模及内容"), width=30),
    Column("land_area_mu", _l("用地面积（亩）"), ("用地面积", "用地", "供地面积", "用地（亩）"), "area", 10),
    Column("is_provincial_major", _l("省重大产业项目"), ("省重大",), "flag", 8),
    Column("is_qianxiang_wanyi", _l("千项万亿"), (), "flag", 8),
    Column("is_yrd_major", _l("长三角重大项目库"), ("长三角重大",), "flag", 8),
    Column("id", _l("系统编号"), ("ID", "id", "项目编号"), "id", 8),
)
BY_KEY = {c.key: c for c in COLUMNS}
_UNIT_RE = re.compile(r"[（(]\s*(万元|亿元|万|亿|亩|10k CNY|100m CNY)\s*[)）]", re.IGNORECASE)


def normalise(text: object) -> str:
    """A header or cell as compared: full-width folded to half-width (NFKC), no spaces, no
    required-field stars, no line breaks."""
    value = unicodedata.normalize("NFKC", str(text or ""))
    return re.sub(r"[\s*＊:：]", "", value)


def split_unit(header: object) -> tuple[str, str | None]:
    """("协议投资额", "yi") from "协议投资额（亿元）"; the unit None when the header has none."""
    raw = unicodedata.normalize("NFKC", str(header or ""))
    match = _UNIT_RE.search(raw.replace("(", "（").replace(")", "）"))
    unit = MONEY_UNITS.get(match.group(1).lower()) if match else None
    name = normalise(_UNIT_RE.sub("", raw.replace("(", "（").replace(")", "）")))
    return name, unit


def _names(column: Column) -> frozenset[str]:
    return _names_of(column.key)


@functools.cache
def _names_of(key: str) -> frozenset[str]:
    """A column's names (synonyms, Chinese and English headers), worked out once: every
    header cell of a file asks for every column's names."""
    from flask_babel import force_locale

    column = BY_KEY[key]
    names = {normalise(s) for s in column.synonyms}
    with force_locale("zh"):
        names.add(split_unit(column.title())[0])
    with force_locale("en"):
        names.add(split_unit(column.title())[0].lower())
    return frozenset(names)


def match_header(header: object) -> tuple[Column | None, str | None]:
    """The importable column a header names, and the money unit the header carries."""
    name, unit = split_unit(header)
    if not name:
        return None, None
    lowered = name.lower()
    for column in COLUMNS:
        if column.importable and (name in _names(column) or lowered in _names(column)):
            return column, unit
    return None, None
