"""Audit entries as people read them: the one formatter behind every change history.

The project timeline (``tracker.workflow.timeline``), the investor page and the admin pages
(users, reference data) all show audit entries. They share this module so that an entry
reads the same everywhere and so that the two shapes an entry's ``changes`` can take are
handled in one place:

- a create (``*.create``, including ``seed.create``) records a snapshot of bare values,
  ``{"name": "…", "source_region_id": 3}``;
- everything else records ``[before, after]`` pairs, ``{"name": ["old", "new"]}``, and may
  carry single values beside them (a decision's ``comment``).

Confusing the two once made new investors' pages fail (a bare id read as a pair).

Reference ids (unit, industry, source region, platform, owner, investor) are shown by name:
the ids of a whole page of entries are collected first and looked up in one query per kind,
never one query per entry. A page describes its own fields with ``Fields`` (labels, value
kinds, value names, hidden keys, actions shown by their title alone); the rest is shared.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from sqlalchemy import select

from tracker.audit.models import AuditEntry
from tracker.auth.models import Unit, User
from tracker.core.formatting import cn_date, wan
from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l
from tracker.extensions import db
from tracker.projects.models import Industry, Investor, Platform, SourceRegion
from tracker.workflow import stages

# Full actions first; an action not listed is named by its verb (the part after the dot).
ACTION_TITLES: dict[str, Any] = {
    "project.create": _l("创建项目"),
    "project.update": _l("修改项目信息"),
    "project.archive": _l("归档"),
    "project.restore": _l("恢复"),
    "project.stage": _l("阶段变更"),
    "investor.create": _l("登记投资方"),
    "investor.update": _l("修改投资方"),
    "seed.create": _l("导入演示数据"),
    "progress.refresh": _l("重算阶段历史与亮灯"),
    "stage_request.create": _l("提交阶段变更申请"),
    "stage_request.approve": _l("批准阶段变更申请"),
    "stage_request.reject": _l("驳回阶段变更申请"),
    "stage_request.withdraw": _l("撤回阶段变更申请"),
    "milestone.plan": _l("修改计划日期"),
    "attachment.create": _l("上传附件"),
    "attachment.upload": _l("上传附件"),
    "attachment.delete": _l("删除附件"),
    "funds.create": _l("登记到位资金"),
    "funds.delete": _l("删除到位资金记录"),
    "ceremony.add_project": _l("列入签约仪式"),
    "ceremony.remove_project": _l("移出签约仪式"),
    "ceremony.update_signatories": _l("修改签约人"),
}
VERB_TITLES: dict[str, Any] = {
    "create": _l("新建"),
    "update": _l("修改"),
    "delete": _l("删除"),
    "retire": _l("停用"),
    "deactivate": _l("停用"),
    "activate": _l("启用"),
    "set_password": _l("重置密码"),
}

# Keys whose value is an id of a reference row, shown by the row's name.
REFERENCES: dict[str, tuple[Any, Any]] = {
    "unit_id": (Unit, Unit.name),
    "industry_id": (Industry, Industry.name),
    "source_region_id": (SourceRegion, SourceRegion.name),
    "platform_id": (Platform, Platform.name),
    "owner_id": (User, User.display_name),
    "investor_id": (Investor, Investor.name),
}
# Keys whose value is a stage code, on any record.
STAGE_KEYS = frozenset({"stage", "from", "to", "from_stage", "to_stage", "paused_from_stage"})
# Provenance a ``seed.create`` entry carries (see seeds/demo.yaml): shown as one readable line.
PROVENANCE_KEYS = ("sources", "invented")
LONG_TEXT_SHOWN = 80  # characters of a "longtext" value a history line shows

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Line(NamedTuple):
    """One changed field. ``after`` is None when the entry holds a single value (a create's
    snapshot, a comment); otherwise ``value`` is the value before and ``after`` the value after."""

    label: str
    value: str
    after: str | None = None


@dataclass
class HistoryItem:
    entry: AuditEntry
    title: str
    kind: str = ""  # css hint on the timeline: stage | decision | request | edit | plan
    lines: list[Line] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Fields:
    """How one page's entries read. ``kinds`` maps a key to date | amount | area | stage |
    longtext | text; ``choices`` maps a key to {stored value: label} (e.g. role codes)."""

    labels: Mapping[str, Any] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, Mapping[Any, Any]] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()  # keys never shown (a password's placeholder)
    title_only: frozenset[str] = frozenset()  # actions shown by their title alone


def display_value(value: Any, kind: str = "") -> str:
    """A stored (JSON) value as text: dates in the page's language, amounts with thousands
    separators, stage codes by label, booleans as 是/否, nothing as —."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if kind == "stage" and isinstance(value, str):
        return stages.label(value)
    if isinstance(value, str) and kind in ("", "date") and _ISO_DATE.fullmatch(value):
        try:
            return cn_date(date.fromisoformat(value))
        except ValueError:
            return value
    if kind in ("amount", "area") and not isinstance(value, (list, dict)):
        try:  # stored as JSON numbers or strings: 186000 → 186,000
            return wan(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            return str(value)
    return str(value)


def is_snapshot(entry: AuditEntry) -> bool:
    """A create records bare values (a list among them is one value, not a pair)."""
    return entry.action.endswith(".create")


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _named_beside(key: str, changes: Mapping[str, Any]) -> bool:
    """``unit_id`` is left out when the entry also records ``unit``, the name at that time."""
    return key.endswith("_id") and key[:-3] in changes


class HistoryFormatter:
    """Formats one page of entries; built with the whole page so names load once per kind."""

    def __init__(self, entries: Iterable[AuditEntry], fields: Fields | None = None):
        self.fields = fields or Fields()
        self.names = self._reference_names([e for e in entries if e.action not in self.fields.title_only])

    # --- names of reference ids ------------------------------------------------------------

    def _shown_keys(self, entry: AuditEntry) -> list[str]:
        changes = entry.changes or {}
        return [k for k in changes if k not in self.fields.hidden and not _named_beside(k, changes)]

    def _reference_names(self, entries: list[AuditEntry]) -> dict[str, dict[int, str]]:
        wanted: dict[str, set[int]] = {key: set() for key in REFERENCES}
        for entry in entries:
            changes = entry.changes or {}
            for key in self._shown_keys(entry):
                if key in wanted:
                    value = changes[key]
                    wanted[key].update(v for v in (value if isinstance(value, list) else [value]) if _is_id(v))
        names: dict[str, dict[int, str]] = {}
        for key, ids in wanted.items():
            if ids:
                model, column = REFERENCES[key]
                names[key] = dict(db.session.execute(select(model.id, column).where(model.id.in_(ids))).all())
        return names

    # --- the parts of an item --------------------------------------------------------------

    def title(self, entry: AuditEntry) -> str:
        title = ACTION_TITLES.get(entry.action) or VERB_TITLES.get(entry.action.rsplit(".", 1)[-1])
        return str(title) if title else entry.action

    def label(self, key: str) -> str:
        label = self.fields.labels.get(key)
        return str(label) if label is not None else key

    def show(self, key: str, value: Any) -> str:
        """One value of ``key`` as text: by name for reference ids and coded values."""
        if isinstance(value, list):
            return "、".join(self.show(key, v) for v in value) or "—"
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            choices = self.fields.choices.get(key)
            if choices and value in choices:
                return str(choices[value])
            if key in self.names and _is_id(value):
                return self.names[key].get(value, str(value))
        kind = self.fields.kinds.get(key) or ("stage" if key in STAGE_KEYS else "")
        text = display_value(value, "" if kind == "longtext" else kind)
        if kind == "longtext" and len(text) > LONG_TEXT_SHOWN:
            text = text[:LONG_TEXT_SHOWN - 1] + "…"
        return text

    def provenance(self, changes: Mapping[str, Any]) -> str:
        """A demo record's ``sources``/``invented`` as words, e.g. 演示数据（虚构：姓名）, instead
        of the raw ``invented：['display_name']``. Field names are shown by the page's labels."""
        parts = []
        sources = changes.get("sources")
        if isinstance(sources, list) and sources:
            parts.append(_("依据资料：%(sources)s", sources="、".join(str(s) for s in sources)))
        invented = changes.get("invented")
        if invented == "all":
            parts.append(_("全部虚构"))
        elif isinstance(invented, list) and invented:
            parts.append(_("虚构：%(fields)s", fields="、".join(self.label(str(f)) for f in invented)))
        if not parts:
            return _("演示数据")
        return _("演示数据（%(detail)s）", detail="；".join(parts))

    def lines(self, entry: AuditEntry, *, skip: Iterable[str] = ()) -> list[Line]:
        """The entry's changed fields in recorded order. Empty single values are left out
        (a create's blank fields, an approval without a comment)."""
        changes = entry.changes or {}
        snapshot = is_snapshot(entry)
        skipped = set(skip)
        out = []
        seeded = entry.action == "seed.create" and any(k in changes for k in PROVENANCE_KEYS)
        if entry.action == "seed.create":
            skipped.update(PROVENANCE_KEYS)
        for key in self._shown_keys(entry):
            if key in skipped:
                continue
            value = changes[key]
            if not snapshot and _is_pair(value):
                out.append(Line(self.label(key), self.show(key, value[0]), self.show(key, value[1])))
            elif value not in (None, "", []):
                out.append(Line(self.label(key), self.show(key, value)))
        if seeded:
            out.append(Line(_("数据来源"), self.provenance(changes)))
        return out

    def item(self, entry: AuditEntry) -> HistoryItem:
        item = HistoryItem(entry, self.title(entry))
        if entry.action not in self.fields.title_only:
            item.lines = self.lines(entry)
        return item


def history_items(entries: Iterable[AuditEntry], fields: Fields | None = None) -> list[HistoryItem]:
    """Display items for a page of entries, in the order given (newest first, as loaded)."""
    entries = list(entries)
    formatter = HistoryFormatter(entries, fields)
    return [formatter.item(e) for e in entries]
