"""English names for the bilingual brief (中文/English) for foreign investors.

User-entered text (project names, content, introductions) is printed as entered; reference
data the bureau itself names — units, industries, regions, platforms, stages, designations —
gets its usual English name here. An admin-set English name (``name_en`` of a unit, industry, region or platform) wins: this
dictionary is only the fallback for rows without one. Unknown names simply have no English
line.
These are fixed document texts in English, not UI strings, so they are not gettext msgids.
"""
from __future__ import annotations

from sqlalchemy import select

from tracker.auth.models import Unit
from tracker.extensions import db

NAMES: dict[str, str] = {
    # Units
    "台州市投资促进中心": "Taizhou Investment Promotion Center",
    "台州市": "Taizhou City",
    "椒江区": "Jiaojiang District",
    "黄岩区": "Huangyan District",
    "路桥区": "Luqiao District",
    "临海市": "Linhai City",
    "温岭市": "Wenling City",
    "玉环市": "Yuhuan City",
    "天台县": "Tiantai County",
    "仙居县": "Xianju County",
    "三门县": "Sanmen County",
    "台州湾新区": "Taizhou Bay New Area",
    # Industries
    "新能源": "New energy",
    "新材料": "New materials",
    "新医药健康": "Pharmaceuticals and health",
    "未来汽车": "Future vehicles",
    "精密制造": "Precision manufacturing",
    "低空经济": "Low-altitude economy",
    "算力/人工智能": "Computing power / AI",
    "算力": "Computing power",
    "人工智能": "Artificial intelligence",
    "氢能": "Hydrogen energy",
    "半导体": "Semiconductors",
    "合成生物": "Synthetic biology",
    "机器人": "Robotics",
    "数字经济": "Digital economy",
    "光电": "Optoelectronics",
    "航空航天": "Aerospace",
    "文旅": "Culture and tourism",
    "现代服务业": "Modern services",
    "其他": "Other",
    # Source regions and countries
    "长三角": "Yangtze River Delta",
    "上海": "Shanghai",
    "江苏": "Jiangsu",
    "安徽": "Anhui",
    "浙江": "Zhejiang",
    "浙江省内台州市外": "Zhejiang (outside Taizhou)",
    "台州市内": "Taizhou",
    "其他省份": "Other provinces",
    "境外": "Overseas",
    "中国": "China",
    "韩国": "Republic of Korea",
    "日本": "Japan",
    "美国": "United States",
    "德国": "Germany",
    "新加坡": "Singapore",
    "中国香港": "Hong Kong, China",
    "中国台湾": "Taiwan, China",
    # Platforms
    "台州湾经济技术开发区": "Taizhou Bay Economic and Technological Development Zone",
    "台州高新技术产业园区": "Taizhou High-tech Industrial Park",
    "台州现代医药高新技术产业园区": "Taizhou Modern Pharmaceutical High-tech Industrial Park",
    "温岭高端装备高新技术产业园区": "Wenling High-end Equipment High-tech Industrial Park",
    "玉环经济开发区": "Yuhuan Economic Development Zone",
    "天台经济开发区": "Tiantai Economic Development Zone",
    "仙居经济开发区": "Xianju Economic Development Zone",
    "三门经济开发区": "Sanmen Economic Development Zone",
    "临海经济开发区": "Linhai Economic Development Zone",
    "黄岩经济开发区": "Huangyan Economic Development Zone",
    "台州综合保税区": "Taizhou Comprehensive Bonded Zone",
    "沪甬台（三门）合作产业园": "Shanghai–Ningbo–Taizhou (Sanmen) Cooperation Industrial Park",
}

# Stage names: none here. The brief uses ``Stage.english`` (workflow/stages.py), the names the
# English screens show, so there is one English name per stage.

DESIGNATIONS_EN: dict[str, str] = {
    "省重大产业项目": "Provincial major industrial project",
    "千项万亿": "Zhejiang “Thousand Projects, Trillion Yuan” programme",
    "长三角重大项目库": "Yangtze River Delta major project pool",
}


def en(name: str | None) -> str:
    """The English name of a reference-data name, or '' when we do not know one."""
    if not name:
        return ""
    return NAMES.get(name.strip(), "")


def reference_en(obj) -> str:
    """The English name of a reference row (unit, industry, source region, platform): the
    ``name_en`` an admin set — the same name the English screens show — else the dictionary
    name of its Chinese name, else ''."""
    if obj is None:
        return ""
    return (getattr(obj, "name_en", "") or "").strip() or en(getattr(obj, "name", ""))


def unit_en(name: str | None) -> str:
    """The English name of the unit called ``name`` (the masthead's printing unit, which the
    brief knows only by name): its ``name_en`` when a unit of that name has one, else the
    dictionary name."""
    if not name:
        return ""
    english = db.session.execute(select(Unit.name_en).where(Unit.name == name.strip()).limit(1)).scalar()
    return (english or "").strip() or en(name)
