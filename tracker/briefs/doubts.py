"""What a printed brief would get visibly wrong, to be confirmed before printing.

A brief of a project whose contracted investment is implausibly small (an amount meant in 亿元
typed as 万元: the same threshold as the form's warning, ``PLAUSIBLE_MIN_INVESTMENT``) or whose
investor has no introduction (it would print "（暂无简介）") is a document a leader sends back.
The brief routes ask the user to confirm or fix first.
"""
from __future__ import annotations

from decimal import Decimal

from tracker.core.translations import gettext as _
from tracker.projects.models import Project
from tracker.projects.schemas import PLAUSIBLE_MIN_INVESTMENT


def print_doubts(project: Project) -> list[str]:
    """The reasons to confirm before printing ``project``'s brief (empty: print as is)."""
    doubts = []
    amount = Decimal(project.contracted_investment or 0)
    if amount < PLAUSIBLE_MIN_INVESTMENT:
        doubts.append(_("协议投资额仅 %(wan)s 万元：是否把亿元填成了万元？", wan=f"{amount:.2f}"))
    investor = project.investor
    if investor is None or not (investor.introduction or "").strip():
        doubts.append(_("投资方没有简介，简介将印为“（暂无简介）”。"))
    return doubts
