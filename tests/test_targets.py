"""Yearly targets per unit (issue 10 item 6): the board of target against actual, the form a
manager sets them with (scope, roles, validation, 亿元 input, stale saves, audit), the
progress macro other screens reuse, and ``targets_for``.

The actual figures come from the report engine (``tracker.reports.figures.unit_actuals``);
its own tests check the figures over many filters, these check that the board shows them
against the targets, with the drill-down links.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from tests.factories import make_investor, make_project, make_user
from tracker.audit.models import AuditEntry
from tracker.projects.models import SourceRegion
from tracker.targets import operations as ops
from tracker.targets.models import UnitTarget
from tracker.targets.queries import progress, year_pace
from tracker.targets.schemas import to_wan

YEAR = 2024


# --- helpers -------------------------------------------------------------------------------------

def target_form(**over):
    data = {"projects_10yi": "4", "projects_10yi_yrd": "2", "investment": "50", "investment_unit": "yi",
            "started": "3", "funds": "20", "funds_unit": "yi", "version": ""}
    data.update(over)
    return data


def stored(db, unit, year=YEAR):
    return db.session.execute(
        select(UnitTarget).where(UnitTarget.unit_id == unit.id, UnitTarget.year == year)
    ).scalar_one_or_none()


def set_target(unit, year=YEAR, actor=None, **figures):
    values = {"projects_10yi": 4, "projects_10yi_yrd": 2, "investment": Decimal(500000), "started": 3,
              "funds": Decimal(200000)}
    values.update(figures)
    target, _changes = ops.save_target(actor, unit, year, values, None)
    return target


def text(resp) -> str:
    return re.sub(r"\s+", " ", resp.get_data(as_text=True))


def field_value(body: str, name: str) -> str | None:
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', body) or re.search(rf'value="([^"]*)"[^>]*name="{name}"', body)
    return m.group(1) if m else None


# --- permissions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["staff", "manager", "leader"])
def test_staff_managers_and_leaders_see_the_board(client, login_as, ref, role):
    login_as(make_user(role, ref.huangyan))
    assert client.get(f"/targets/?year={YEAR}").status_code == 200


def test_admin_does_not_see_targets(client, login_as, ref):
    login_as(make_user("admin", ref.city))
    assert client.get("/targets/").status_code == 403


@pytest.mark.parametrize("role,unit,which,status", [
    ("staff", "huangyan", "huangyan", 403),
    ("staff", "huangyan", "linhai", 404),
    ("leader", "huangyan", "huangyan", 403),
    ("leader", "city", "linhai", 403),
    ("staff", "city", "huangyan", 403),
    ("admin", "city", "huangyan", 403),
    ("manager", "huangyan", "linhai", 404),
    ("manager", "huangyan", "city", 404),
])
def test_who_may_not_set_targets(client, login_as, db, ref, role, unit, which, status):
    login_as(make_user(role, getattr(ref, unit)))
    target_unit = getattr(ref, which)
    assert client.get(f"/targets/{target_unit.id}/{YEAR}").status_code == status
    assert client.post(f"/targets/{target_unit.id}/{YEAR}", data=target_form()).status_code == status
    assert stored(db, target_unit) is None


def test_county_manager_sets_own_units_targets(client, login_as, db, ref):
    login_as(make_user("manager", ref.huangyan))
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}", data=target_form())
    assert resp.status_code == 302 and f"year={YEAR}" in resp.headers["Location"]
    target = stored(db, ref.huangyan)
    assert (target.projects_10yi, target.projects_10yi_yrd, target.started) == (4, 2, 3)
    assert target.investment == Decimal("500000.00") and target.funds == Decimal("200000.00")
    body = text(client.get(resp.headers["Location"]))
    assert "已保存黄岩区 2024 年目标" in body and "临海市" not in body and "全市" not in body.split("<main")[1]


@pytest.mark.parametrize("which", ["huangyan", "linhai", "city"])
def test_city_manager_sets_any_units_targets(client, login_as, db, ref, which):
    login_as(make_user("manager", ref.city))
    unit = getattr(ref, which)
    assert client.get(f"/targets/{unit.id}/{YEAR}").status_code == 200
    assert client.post(f"/targets/{unit.id}/{YEAR}", data=target_form()).status_code == 302
    assert stored(db, unit).projects_10yi == 4


def test_missing_and_absurd_units_are_404(client, login_as, ref):
    login_as(make_user("manager", ref.city))
    for url in ("/targets/999999/2024", "/targets/0/2024", "/targets/99999999999999999999/2024"):
        assert client.get(url).status_code == 404, url


def test_operation_checks_scope_itself(db, ref):
    manager = make_user("manager", ref.huangyan)
    with pytest.raises(ops.TargetError):
        set_target(ref.linhai, actor=manager)
    assert stored(db, ref.linhai) is None


# --- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("name,value,message", [
    ("projects_10yi", "-1", "应在 0 至 100000 之间"),
    ("projects_10yi", "abc", "请输入整数"),
    ("projects_10yi", "", "请填写10亿元以上项目数"),
    ("projects_10yi", "1" * 30, "请输入整数"),
    ("started", "100001", "应在 0 至 100000 之间"),
    ("started", "2.5", "请输入整数"),
    ("investment", "-5", "金额不能为负数"),
    ("investment", "abc", "请输入数字"),
    ("investment", "1e20", "请输入数字"),
    ("investment", "NaN", "请输入数字"),
    ("investment", "99999999999", "数值过大"),
    ("investment", "9" * 40, "数值过大"),
    ("funds", "99999999999亿", "数值过大"),
    ("funds", "", "请填写到位资金目标"),
    ("investment_unit", "usd", "请从列表中选择"),
])
def test_bad_input_gets_a_message_and_is_kept(client, login_as, db, ref, name, value, message):
    login_as(make_user("manager", ref.huangyan))
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}", data=target_form(**{name: value}))
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body
    if name != "investment_unit":
        assert field_value(body, name) == value
        assert field_value(body, "projects_10yi_yrd") == "2"  # the other fields are kept too
    assert stored(db, ref.huangyan) is None


def test_yrd_cannot_exceed_the_total(client, login_as, db, ref):
    login_as(make_user("manager", ref.huangyan))
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}", data=target_form(projects_10yi="2", projects_10yi_yrd="3"))
    assert resp.status_code == 422
    assert "不能多于10亿元以上项目数（2 个）" in resp.get_data(as_text=True)
    assert stored(db, ref.huangyan) is None


@pytest.mark.parametrize("typed,unit,wan", [
    ("50亿", "wan", "500000.00"),
    ("50 亿元", "yi", "500000.00"),
    ("５０亿", "yi", "500000.00"),
    ("5000万", "yi", "5000.00"),
    ("5000万元", "yi", "5000.00"),
    ("50", "yi", "500000.00"),
    ("50", "wan", "50.00"),
    ("1.2345", "yi", "12345.00"),
    ("12,500", "wan", "12500.00"),
    ("0", "yi", "0.00"),
])
def test_amounts_accept_yi_and_wan(client, login_as, db, ref, typed, unit, wan):
    assert to_wan(typed, unit) == Decimal(wan)
    login_as(make_user("manager", ref.huangyan))
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}", data=target_form(investment=typed, investment_unit=unit))
    assert resp.status_code == 302
    assert stored(db, ref.huangyan).investment == Decimal(wan)


def test_the_form_shows_amounts_in_yi(client, login_as, db, ref):
    set_target(ref.huangyan, investment=Decimal("123450.00"), funds=Decimal(500000))
    login_as(make_user("manager", ref.huangyan))
    body = client.get(f"/targets/{ref.huangyan.id}/{YEAR}").get_data(as_text=True)
    assert field_value(body, "investment") == "12.345" and field_value(body, "funds") == "50"


@pytest.mark.parametrize("year", ["1800", "1999", "2101", "0", "99999999999"])
def test_implausible_years(client, login_as, db, ref, year):
    login_as(make_user("manager", ref.huangyan))
    assert client.get(f"/targets/{ref.huangyan.id}/{year}").status_code == 404
    assert client.post(f"/targets/{ref.huangyan.id}/{year}", data=target_form()).status_code == 404
    resp = client.get(f"/targets/?year={year}")
    assert resp.status_code == 200
    assert "年份无效" in text(resp)
    with pytest.raises(ops.TargetError):
        set_target(ref.huangyan, year=int(year) if len(year) < 6 else 1800)


@pytest.mark.parametrize("arg", ["abc", "-2024", "２０２４", "2024.0", "%00", ""])
def test_the_board_shrugs_off_bad_year_args(client, login_as, ref, arg):
    login_as(make_user("leader", ref.city))
    assert client.get(f"/targets/?year={arg}").status_code == 200


# --- saving: create, update, stale, audit --------------------------------------------------------

def test_update_writes_an_audit_entry_with_before_and_after(client, login_as, db, ref):
    target = set_target(ref.huangyan)
    login_as(make_user("manager", ref.huangyan))
    body = client.get(f"/targets/{ref.huangyan.id}/{YEAR}").get_data(as_text=True)
    version = field_value(body, "version")
    assert version == str(target.version_id)
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}",
                       data=target_form(projects_10yi="6", investment="80亿", version=version))
    assert resp.status_code == 302
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "target.update",
                                                        AuditEntry.object_id == target.id)).scalar_one()
    assert entry.object_type == "unit_target"
    assert entry.changes["projects_10yi"] == [4, 6]
    assert entry.changes["investment"] == ["500000", "800000"]
    assert entry.changes["year"] == YEAR and entry.changes["unit"] == "黄岩区"
    assert "started" not in entry.changes  # unchanged figures are not listed


def test_create_writes_an_audit_entry(client, login_as, db, ref):
    manager = login_as(make_user("manager", ref.huangyan))
    client.post(f"/targets/{ref.huangyan.id}/{YEAR}", data=target_form())
    target = stored(db, ref.huangyan)
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "target.create",
                                                        AuditEntry.object_id == target.id)).scalar_one()
    assert entry.actor_id == manager.id and entry.changes["projects_10yi"] == 4
    assert target.updated_by_id == manager.id


def test_saving_nothing_new_changes_nothing(client, login_as, db, ref):
    target = set_target(ref.huangyan)
    login_as(make_user("manager", ref.huangyan))
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}", data=target_form(version=str(target.version_id)),
                       follow_redirects=True)
    assert "没有需要保存的修改" in text(resp)
    assert db.session.execute(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "target.update")).scalar_one() == 0


def test_stale_save_is_409_with_the_input_kept(client, login_as, db, ref):
    target = set_target(ref.huangyan)
    login_as(make_user("manager", ref.huangyan))
    seen = field_value(client.get(f"/targets/{ref.huangyan.id}/{YEAR}").get_data(as_text=True), "version")
    # Someone else saves in between.
    other = make_user("manager", ref.city)
    ops.save_target(other, ref.huangyan, YEAR, {**{k: getattr(target, k) for k in ops.FIELDS}, "started": 9},
                    target.version_id)
    db.session.commit()
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}",
                       data=target_form(projects_10yi="7", investment="66亿", version=seen))
    assert resp.status_code == 409
    body = resp.get_data(as_text=True)
    assert "已被他人修改" in body and "他人刚保存的目标" in body
    assert field_value(body, "projects_10yi") == "7" and field_value(body, "investment") == "66亿"
    db.session.expire_all()
    assert stored(db, ref.huangyan).projects_10yi == 4 and stored(db, ref.huangyan).started == 9
    # The form now carries the fresh version: saving again (having checked) goes through.
    fresh = field_value(body, "version")
    assert fresh != seen
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}", data=target_form(projects_10yi="7", version=fresh))
    assert resp.status_code == 302
    db.session.expire_all()
    assert stored(db, ref.huangyan).projects_10yi == 7


@pytest.mark.parametrize("version", ["", "abc", "-1", "99"])
def test_a_form_that_did_not_see_the_current_target_is_stale(client, login_as, db, ref, version):
    set_target(ref.huangyan)
    login_as(make_user("manager", ref.huangyan))
    resp = client.post(f"/targets/{ref.huangyan.id}/{YEAR}", data=target_form(projects_10yi="1", projects_10yi_yrd="0",
                                                                              version=version))
    assert resp.status_code == 409
    db.session.expire_all()
    assert stored(db, ref.huangyan).projects_10yi == 4


def test_copy_last_years_targets_prefills_without_saving(client, login_as, db, ref):
    set_target(ref.huangyan, year=YEAR - 1, projects_10yi=5)
    login_as(make_user("manager", ref.huangyan))
    plain = client.get(f"/targets/{ref.huangyan.id}/{YEAR}").get_data(as_text=True)
    assert "以 2023 年目标为起点" in plain and field_value(plain, "projects_10yi") in (None, "")
    body = client.get(f"/targets/{ref.huangyan.id}/{YEAR}?copy=previous").get_data(as_text=True)
    assert field_value(body, "projects_10yi") == "5" and field_value(body, "investment") == "50"
    assert field_value(body, "version") in (None, "")
    assert stored(db, ref.huangyan) is None


# --- reading: targets_for, the board, the progress bar -------------------------------------------

def test_targets_for_is_scoped(db, ref):
    set_target(ref.huangyan)
    set_target(ref.linhai)
    set_target(ref.city)
    set_target(ref.huangyan, year=YEAR + 1)
    county, city = make_user("leader", ref.huangyan), make_user("leader", ref.city)
    assert set(ops.targets_for(county, YEAR)) == {ref.huangyan.id}
    assert set(ops.targets_for(city, YEAR)) == {ref.huangyan.id, ref.linhai.id, ref.city.id}
    assert all(t.year == YEAR for t in ops.targets_for(city, YEAR).values())
    assert ops.targets_for(city, 1800) == {}


@pytest.mark.parametrize("actual,target,percent,state", [
    (3, 4, 75, "on"),
    (1, 3, 33, "on"),
    (2, 3, 67, "on"),
    (199, 200, 99, "on"),  # never "100%" before it is reached
    (4, 4, 100, "done"),
    (5, 4, 125, "done"),
    (0, 4, 0, "on"),
    (Decimal("250000.00"), Decimal("500000.00"), 50, "on"),
    (3, 0, None, "none"),
    (3, None, None, "none"),
    (None, 4, None, "none"),
])
def test_progress_percentages(actual, target, percent, state):
    p = progress(actual, target)
    assert (p.percent, p.state) == (percent, state)
    assert 0 <= p.width <= 100


def test_progress_against_the_pace():
    assert progress(1, 4, pace=50).state == "behind"
    assert progress(2, 4, pace=50).state == "on"
    assert year_pace(2024, date(2025, 1, 1)) == 100
    assert year_pace(2026, date(2025, 6, 1)) is None
    assert year_pace(2025, date(2025, 7, 2)) == 50


def test_the_macro_writes_the_progress_in_text(app, db):
    template = ('{% from "targets/_macros.html" import progress %}'
                '{{ progress(3, 4, "/projects/?size=10") }}|{{ progress(5, 4) }}|{{ progress(1, 4, pace=60) }}|'
                '{{ progress(2, none) }}|{{ progress(250000, 500000, kind="money") }}|{{ progress(1, 4, pace=100) }}')
    with app.test_request_context():
        parts = render_template_string(template).split("|")
    assert "75%" in parts[0] and 'href="/projects/?size=10"' in parts[0] and "tp-on" in parts[0]
    assert 'aria-hidden="true"' in parts[0]  # the bar repeats the text; it is not read out
    assert "125%" in parts[1] and "已完成" in parts[1]
    assert "25%" in parts[2] and "落后序时进度" in parts[2]
    assert "未设目标" in parts[3] and "%" not in parts[3] and "<svg" not in parts[3]
    assert "25.00" in parts[4] and "50.00" in parts[4] and "亿元" in parts[4] and "50%" in parts[4]
    assert "未完成" in parts[5]


def _hand_made(ref):
    """黄岩区 in 2024: two 10亿+ projects (one from 江苏 = 长三角, started, 3亿 in place), one
    5亿, one terminated 20亿 (not counted) and one signed in 2023 (not counted)."""
    local = make_investor(unit=ref.huangyan, source_region=ref.region_local)
    yrd = make_project(unit=ref.huangyan, name="长三角大项目", signed_on=date(YEAR, 3, 1),
                       contracted_investment=Decimal(150000), stage="construction", funds_in_place=Decimal(30000))
    make_project(unit=ref.huangyan, name="本地大项目", investor=local, signed_on=date(YEAR, 5, 1),
                 contracted_investment=Decimal(120000))
    make_project(unit=ref.huangyan, name="五亿元项目", investor=local, signed_on=date(YEAR, 7, 1),
                 contracted_investment=Decimal(50000))
    make_project(unit=ref.huangyan, name="终止项目", signed_on=date(YEAR, 8, 1),
                 contracted_investment=Decimal(200000), stage="terminated", status_reason="投资方撤回")
    make_project(unit=ref.huangyan, name="去年项目", signed_on=date(YEAR - 1, 12, 30),
                 contracted_investment=Decimal(300000))
    make_project(unit=ref.linhai, name="临海项目", signed_on=date(YEAR, 4, 1),
                 contracted_investment=Decimal(100000))
    return yrd


def test_board_shows_target_actual_and_percent(client, login_as, db, ref):
    assert db.session.get(SourceRegion, ref.region.id).is_yrd
    _hand_made(ref)
    set_target(ref.huangyan, projects_10yi=4, projects_10yi_yrd=2, investment=Decimal(640000), started=4,
               funds=Decimal(300000))
    login_as(make_user("staff", ref.huangyan))
    body = text(client.get(f"/targets/?year={YEAR}"))
    row = body.split("黄岩区</th>")[1].split("</tr>")[0]
    cells = re.findall(r"<td data-label=[^>]*>(.*?)</td>", row)
    assert len(cells) == 5
    assert "2</a>" in cells[0] and "4" in cells[0] and "50%" in cells[0]  # 2 of 4 projects of 10亿+
    assert "1</a>" in cells[1] and "50%" in cells[1]  # 1 of 2 from 长三角
    assert "32.00</a>" in cells[2] and "64.00" in cells[2] and "50%" in cells[2]  # 32亿 of 64亿
    assert "1</a>" in cells[3] and "25%" in cells[3]  # 1 of 4 started
    assert "3.00</a>" in cells[4] and "30.00" in cells[4] and "10%" in cells[4]  # 3亿 of 30亿
    links = re.findall(r'href="(/projects/\?[^"]+)"', row)
    assert len(links) == 5 and all("signed_from=2024-01-01" in link and "signed_to=2024-12-31" in link for link in links)
    assert "临海市" not in body  # another county is out of scope


def test_drill_link_lists_the_projects_behind_the_actual(client, login_as, db, ref):
    _hand_made(ref)
    set_target(ref.huangyan)
    login_as(make_user("staff", ref.huangyan))
    body = client.get(f"/targets/?year={YEAR}").get_data(as_text=True)
    row = body.split("黄岩区</th>")[1].split("</tr>")[0]
    first = re.findall(r'href="(/projects/\?[^"]+)"', row)[0].replace("&amp;", "&")
    listed = client.get(first).get_data(as_text=True)
    # The list's own totals equal the figure (the report engine's drill-down tests check
    # that over many filters); here: the counted projects are listed, other years' are not.
    assert "长三角大项目" in listed and "本地大项目" in listed
    assert "五亿元项目" not in listed and "去年项目" not in listed


def test_city_sees_every_unit_and_the_city_row(client, login_as, db, ref):
    _hand_made(ref)
    set_target(ref.huangyan, projects_10yi=4, projects_10yi_yrd=2)
    set_target(ref.linhai, projects_10yi=6, projects_10yi_yrd=2)
    login_as(make_user("manager", ref.city))
    body = text(client.get(f"/targets/?year={YEAR}"))
    assert "黄岩区" in body and "临海市" in body
    total = body.split('<tr class="total">')[1].split("</tr>")[0]
    assert "目标为各单位合计" in total
    first = re.findall(r"<td data-label=[^>]*>(.*?)</td>", total)[0]
    assert "3</a>" in first and "10" in first and "30%" in first  # (2 + 1) of (4 + 6)
    # Once the city-wide target is set, the 全市 row is measured against it.
    set_target(ref.city, projects_10yi=5, projects_10yi_yrd=1)
    db.session.commit()
    body = text(client.get(f"/targets/?year={YEAR}"))
    total = body.split('<tr class="total">')[1].split("</tr>")[0]
    assert "全市目标" in total and "60%" in total  # 3 of 5
    assert f'/targets/{ref.city.id}/{YEAR}' in total  # the city manager sets it here


def test_empty_state_offers_managers_a_button(client, login_as, db, ref):
    login_as(make_user("manager", ref.huangyan))
    body = text(client.get("/targets/?year=2025"))
    assert "尚未设定 2025 年目标" in body
    assert f'href="/targets/{ref.huangyan.id}/2025"' in body
    set_target(ref.huangyan, year=2024)
    db.session.commit()
    body = text(client.get("/targets/?year=2025"))
    assert f'/targets/{ref.huangyan.id}/2025?copy=previous' in body


def test_empty_state_without_button_for_staff(client, login_as, db, ref):
    login_as(make_user("staff", ref.huangyan))
    body = text(client.get("/targets/?year=2025"))
    assert "尚未设定 2025 年目标" in body and f"/targets/{ref.huangyan.id}/2025" not in body


def test_default_year_is_this_year(client, login_as, ref):
    from tracker.core.formatting import today_local

    login_as(make_user("leader", ref.city))
    assert f"{today_local().year} 年目标任务" in text(client.get("/targets/"))
