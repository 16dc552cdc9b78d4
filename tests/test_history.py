"""The one formatter of audit entries (tracker.audit.history) and the pages that use it: the
project timeline, the investor page and the admin pages.

Entries come in two shapes — a create records bare values, everything else [before, after]
pairs — and the formatter must read both (a bare id read as a pair once failed new
investors' pages). Reference ids are shown by name with at most one query per kind for a
whole page, so the pages' query counts do not grow with their history.
"""
from __future__ import annotations

import re

import pytest

from tests.factories import count_queries, make_investor, make_project, make_user
from tracker.audit.history import Fields, HistoryFormatter, Line, history_items
from tracker.audit.models import AuditEntry
from tracker.audit.operations import record
from tracker.auth.models import ROLE_LABELS, Role


def _entry(action: str, changes: dict, **kw) -> AuditEntry:
    """An entry as the formatter sees it (not saved: formatting reads, never writes)."""
    object_type = kw.pop("object_type", action.split(".", 1)[0])
    return AuditEntry(action=action, object_type=object_type, changes=changes, **kw)


def _history_section(html: str) -> str:
    """The change-history card of a page (its heading up to the end of its section)."""
    start = html.index("变更记录</h2>")
    return html[start:html.index("</section>", start)]


# ---------------------------------------------------------------- the formatter


def test_create_holds_bare_values_and_update_pairs_both_by_name(db, ref):
    fields = Fields(labels={"source_region_id": "来源地", "unit_id": "登记单位", "name": "名称"})
    created = _entry("investor.create", {"name": "甲公司", "source_region_id": ref.region.id,
                                         "unit_id": ref.huangyan.id})
    updated = _entry("investor.update", {"source_region_id": [ref.region.id, ref.region_local.id]})
    new_item, old_item = history_items([updated, created], fields)
    assert new_item.lines == [Line("来源地", "江苏", "台州市内")]
    assert old_item.lines == [Line("名称", "甲公司"), Line("来源地", "江苏"), Line("登记单位", "黄岩区")]
    assert (new_item.title, old_item.title) == ("修改投资方", "登记投资方")


def test_a_list_in_a_create_is_one_value_not_a_pair(db):
    (item,) = history_items([_entry("ceremony.create", {"signings": ["项目一", "项目二"]})])
    assert item.lines == [Line("signings", "项目一、项目二")]
    # A seed entry's provenance lists read as words (tests/test_english_and_account.py).
    (seeded,) = history_items([_entry("seed.create", {"sources": ["新闻一", "新闻二"]})])
    assert seeded.lines == [Line("数据来源", "演示数据（依据资料：新闻一、新闻二）")]
    assert seeded.title == "导入演示数据"


def test_names_load_once_per_kind_for_a_whole_page(db, ref):
    entries = [_entry("project.update", {"unit_id": [ref.huangyan.id, ref.linhai.id],
                                         "industry_id": [ref.industry.id, ref.industry2.id]})
               for _ in range(15)]
    entries.append(_entry("investor.create", {"unit_id": ref.city.id}))
    with count_queries(db) as statements:
        items = history_items(entries)
    assert len(statements) == 2  # units, industries: not one per entry
    assert items[0].lines == [Line("unit_id", "黄岩区", "临海市"), Line("industry_id", "新能源", "低空经济")]
    assert items[-1].lines == [Line("unit_id", "台州市投资促进中心")]


def test_nothing_to_name_costs_no_query(db):
    with count_queries(db) as statements:
        history_items([_entry("user.update", {"display_name": ["甲", "乙"]})])
    assert statements == []


def test_values_read_as_people_write_them(db):
    fields = Fields(kinds={"amount": "amount", "intro": "longtext"}, choices={"role": {"manager": "科室负责人"}})
    (item,) = history_items([_entry("thing.update", {
        "amount": ["186000", "1234567.5"], "signed_on": [None, "2024-06-01"], "active": [False, True],
        "stage": ["signed", "registered"], "role": ["staff", "manager"], "intro": ["长" * 100, ""],
    })], fields)
    assert item.lines[0].value == "186,000" and item.lines[0].after == "1,234,567.50"
    assert item.lines[1] == Line("signed_on", "—", "2024年6月1日")
    assert item.lines[2] == Line("active", "否", "是")
    assert item.lines[3] == Line("stage", "已签约", "已注册")
    assert item.lines[4] == Line("role", "staff", "科室负责人")
    assert len(item.lines[5].value) == 80 and item.lines[5].value.endswith("…") and item.lines[5].after == "—"


def test_hidden_keys_title_only_actions_and_names_recorded_beside_ids(db, ref):
    fields = Fields(hidden=frozenset({"password"}), title_only=frozenset({"project.create"}))
    password, created, platform = history_items([
        _entry("user.set_password", {"password": ["***", "***"]}),
        _entry("project.create", {"name": "某项目", "unit_id": ref.huangyan.id}),
        _entry("platform.update", {"unit_id": [ref.huangyan.id, ref.linhai.id], "unit": ["黄岩区（旧名）", "临海市"]}),
    ], fields)
    assert password.title == "重置密码" and password.lines == []
    assert created.title == "创建项目" and created.lines == []
    assert platform.title == "修改" and platform.lines == [Line("unit", "黄岩区（旧名）", "临海市")]


def test_an_unknown_action_and_odd_values_never_fail(db):
    formatter = HistoryFormatter([])
    item = formatter.item(_entry("gadget.frobnicate", {"x": {"nested": 1}, "y": [1, 2, 3], "z": "", "w": None}))
    assert item.title == "gadget.frobnicate"
    assert item.lines == [Line("x", "{'nested': 1}"), Line("y", "1、2、3")]
    assert formatter.show("unit_id", 999999) == "999999"  # a deleted row: its id


# ---------------------------------------------------------------- the pages


def test_templates_call_no_querying_globals(app):
    for name in ("workflow_panel", "project_timeline", "has_endpoint"):
        assert name not in app.jinja_env.globals


def _project_page(client, project, db) -> tuple[str, int]:
    db.session.commit()
    with count_queries(db) as statements:
        resp = client.get(f"/projects/{project.id}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True), len(statements)


def test_project_page_queries_do_not_grow_with_its_history(client, login_as, ref, db):
    staff = make_user("staff", ref.huangyan)
    manager = make_user("manager", ref.huangyan)
    project = make_project(unit=ref.huangyan)
    login_as(staff)
    owners = [make_user("staff", ref.huangyan) for _ in range(4)]

    def edits(n):
        for i in range(n):
            record(manager, "project.update", project, {
                "owner_id": [owners[i % 4].id, owners[(i + 1) % 4].id],
                "industry_id": [ref.industry.id, ref.industry2.id], "content": [f"旧{i}", f"新{i}"],
                "contracted_investment": ["150000", "186000"]})

    edits(2)
    few_page, few = _project_page(client, project, db)
    edits(20)
    many_page, many = _project_page(client, project, db)
    assert few == many
    history = _history_section(many_page)
    assert owners[1].display_name in history and "低空经济" in history
    assert "150,000 → 186,000" in history  # amounts with thousands separators


def test_ceremony_entries_on_the_project_timeline_are_named(client, login_as, ref, db):
    staff = make_user("staff", ref.huangyan)
    project = make_project(unit=ref.huangyan)
    from tracker.ceremonies.models import Ceremony

    ceremony = Ceremony(name="测试签约仪式", held_on=project.signed_on, unit=ref.huangyan)
    db.session.add(ceremony)
    db.session.flush()
    record(staff, "ceremony.add_project", ceremony, {"project": project.name, "position": 1}, project_id=project.id)
    record(staff, "ceremony.update_signatories", ceremony,
           {"project": project.name, "signatory_local": ["", "张三"]}, project_id=project.id)
    login_as(staff)
    history = _history_section(_project_page(client, project, db)[0])
    assert "ceremony." not in history
    assert "列入签约仪式" in history and "修改签约人" in history and "我方签约人" in history
    assert "— → 张三" in history


def test_new_investor_history_names_its_region(client, login_as, ref, db):
    staff = make_user("staff", ref.huangyan)
    login_as(staff)
    resp = client.post("/investors/new", data={
        "name": "浙江新登记有限公司", "uscc": "", "source_region_id": ref.region_local.id, "country": "",
        "unit_id": ref.huangyan.id, "introduction": "测" * 200,
    })
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    history = _history_section(page)
    assert "登记投资方" in history and "台州市内" in history and "黄岩区" in history
    assert "测" * 79 + "…" in history and "测" * 81 not in history
    assert f"</span>{ref.region_local.id}</li>" not in history  # the region's name, never its id


def test_investor_page_queries_do_not_grow_with_its_history(client, login_as, ref, db):
    investor = make_investor(unit=ref.huangyan)
    user = make_user("manager", ref.huangyan)
    login_as(user)

    def edits(n):
        for _ in range(n):
            record(user, "investor.update", investor, {"source_region_id": [ref.region.id, ref.region_local.id],
                                                      "unit_id": [ref.huangyan.id, ref.linhai.id]})
        db.session.commit()

    counts = []
    for n in (1, 15):
        edits(n)
        with count_queries(db) as statements:
            page = client.get(f"/investors/{investor.id}").get_data(as_text=True)
        counts.append(len(statements))
    assert counts[0] == counts[1]
    assert "江苏 → 台州市内" in _history_section(page) and "黄岩区 → 临海市" in _history_section(page)


def test_admin_user_history_through_the_same_formatter(client, login_as, ref, db):
    admin = make_user("admin", ref.city)
    user = make_user("staff", ref.huangyan, display_name="王五")
    record(admin, "user.create", user, {"username": user.username, "role": "staff", "unit": "黄岩区"})
    record(admin, "user.update", user, {"role": ["staff", "manager"], "unit": ["黄岩区", "临海市"]})
    record(admin, "user.set_password", user, {"password": ["***", "***"]})
    db.session.commit()
    login_as(admin)
    history = _history_section(client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True))
    staff_label, manager_label = str(ROLE_LABELS[Role.staff]), str(ROLE_LABELS[Role.manager])
    assert f"{staff_label} → {manager_label}" in history and "黄岩区 → 临海市" in history
    assert "重置密码" in history and "***" not in history
    assert history.count('class="tl-') == 3


@pytest.mark.parametrize("action", ["create", "update"])
def test_admin_reference_history_names_units(client, login_as, ref, db, action):
    admin = make_user("admin", ref.city)
    changes = ({"name": ref.platform.name, "unit_id": ref.huangyan.id} if action == "create"
               else {"unit_id": [ref.huangyan.id, ref.linhai.id]})
    record(admin, f"platform.{action}", ref.platform, changes)
    db.session.commit()
    login_as(admin)
    page = client.get(f"/admin/reference/platforms/{ref.platform.id}/edit").get_data(as_text=True)
    history = _history_section(page)
    assert ("黄岩区" in history) if action == "create" else ("黄岩区 → 临海市" in history)
    assert not re.search(rf">\s*{ref.huangyan.id}\s*<", history)
