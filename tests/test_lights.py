"""Red/yellow lights (issue 10 item 5): the admin's stage-deadline page, the light on the
project page and in the project list (column, filter, sort) at the deadline boundaries.

A project is late on the day *after* its ``due_on`` and red on the day after ``red_on``;
paused, terminated and archived projects are never lit.
"""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from tests.factories import make_project, make_user
from tracker.audit.models import AuditEntry
from tracker.core import datacache
from tracker.core.formatting import today_local
from tracker.progress.lights import add_months
from tracker.progress.models import DEFAULT_DEADLINES, StageDeadline
from tracker.projects.models import Project


@pytest.fixture()
def admin(db, ref):
    return make_user("admin", ref.city, display_name="管理员甲")


@pytest.fixture()
def staff(db, ref):
    return make_user("staff", ref.huangyan)


def _set(db, project, **values):
    """Write derived dates straight to the row (as lights.refresh would)."""
    db.session.execute(update(Project).where(Project.id == project.id).values(**values)
                       .execution_options(synchronize_session=False))
    db.session.flush()
    db.session.expire_all()
    datacache.clear()  # lights.refresh's audit entry makes a new data version; this shortcut writes none


def _deadline(db, stage: str) -> StageDeadline:
    return db.session.execute(select(StageDeadline).where(StageDeadline.stage == stage)
                              .execution_options(populate_existing=True)).scalar_one()


def _form(db, **override) -> dict[str, str]:
    """The deadline form as the page posts it: every stage's saved months and version."""
    data = {}
    for stage in DEFAULT_DEADLINES:
        row = _deadline(db, stage)
        data[f"yellow_{stage}"] = str(row.yellow_months)
        data[f"red_{stage}"] = str(row.red_months)
        data[f"version_{stage}"] = str(row.version_id)
    data.update(override)
    return data


def _dates(db, project) -> tuple:
    row = db.session.execute(select(Project.due_on, Project.red_on).where(Project.id == project.id)).one()
    return row.due_on, row.red_on


# --- The stage-deadline page -------------------------------------------------------------------


def test_deadline_page_lists_every_stage_with_defaults(client, login_as, admin):
    login_as(admin)
    body = client.get("/admin/deadlines").get_data(as_text=True)
    for stage, (yellow, red) in DEFAULT_DEADLINES.items():
        assert f'name="yellow_{stage}" value="{yellow}"' in body
        assert f'name="red_{stage}" value="{red}"' in body
    assert "已达产" in body  # the next stage of 已投产
    assert "24 / 36 个月" in body  # DOMAIN.md's default shown as a hint
    assert 'href="/admin/deadlines"' in client.get("/admin/reference").get_data(as_text=True)


def test_saving_a_deadline_recomputes_the_lights_of_that_stage_and_audits(client, login_as, admin, db):
    today = today_local()
    since = today - timedelta(days=100)
    signed = make_project(stage="signed", signed_on=since)
    registered = make_project(stage="registered", signed_on=since - timedelta(days=30))
    _set(db, registered, stage_since=since)
    assert _dates(db, signed) == (add_months(since, 3), add_months(since, 6))
    before_registered = _dates(db, registered)
    login_as(admin)

    resp = client.post("/admin/deadlines", data=_form(db, yellow_signed="2", red_signed="3"))
    assert resp.status_code == 302
    assert (_deadline(db, "signed").yellow_months, _deadline(db, "signed").red_months) == (2, 3)
    assert _dates(db, signed) == (add_months(since, 2), add_months(since, 3))  # now lit
    assert _dates(db, registered) == before_registered  # another stage: untouched
    entries = db.session.execute(select(AuditEntry).where(AuditEntry.object_type == "stage_deadline")).scalars().all()
    assert len(entries) == 1 and entries[0].actor_id == admin.id
    assert entries[0].changes == {"stage": "signed", "yellow_months": [3, 2], "red_months": [6, 3]}

    history = client.get("/admin/deadlines").get_data(as_text=True)
    assert "管理员甲" in history and "黄灯 3 → 2 个月" in history

    # Saving the same numbers again changes nothing and audits nothing.
    assert client.post("/admin/deadlines", data=_form(db)).status_code == 302
    assert len(db.session.execute(select(AuditEntry).where(AuditEntry.object_type == "stage_deadline")).all()) == 1

    login_as(make_user("staff", signed.unit))
    assert "light-red" in client.get(f"/projects/{signed.id}").get_data(as_text=True)  # 100 days > 3 months


@pytest.mark.parametrize("field,value,message", [
    ("yellow_signed", "abc", "请输入整数"),
    ("yellow_signed", "0", "应在 1 至 120 之间"),
    ("red_construction", "121", "应在 1 至 120 之间"),
    ("red_signed", "2", "红灯期限不能短于黄灯期限"),
    ("yellow_registered", "", "请填写月数"),
    ("red_land_secured", "2.5", "请输入整数"),
])
def test_invalid_months_are_refused_beside_the_field_with_the_input_kept(client, login_as, admin, db,
                                                                        field, value, message):
    login_as(admin)
    resp = client.post("/admin/deadlines", data=_form(db, **{field: value}))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(rf'id="{field}_err"[^>]*>[^<]*{message}', body)
    assert f'name="{field}" value="{value}"' in body
    assert (_deadline(db, "signed").yellow_months, _deadline(db, "signed").red_months) == DEFAULT_DEADLINES["signed"]
    assert not db.session.execute(select(AuditEntry).where(AuditEntry.object_type == "stage_deadline")).first()


def test_full_width_digits_are_accepted(client, login_as, admin, db):
    login_as(admin)
    assert client.post("/admin/deadlines", data=_form(db, yellow_signed="４")).status_code == 302
    assert _deadline(db, "signed").yellow_months == 4


def test_a_stale_save_is_refused_with_the_input_kept(client, login_as, admin, db):
    login_as(admin)
    opened = _form(db, yellow_signed="5")  # read at version 1
    # Someone else saves 已签约 meanwhile.
    assert client.post("/admin/deadlines", data=_form(db, red_signed="9")).status_code == 302
    resp = client.post("/admin/deadlines", data=opened)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "已被他人修改" in body
    assert 'name="yellow_signed" value="5"' in body  # the input kept
    assert "3 / 9 个月" in body  # what is saved now
    row = _deadline(db, "signed")
    assert (row.yellow_months, row.red_months) == (3, 9)
    # The refused form now carries the newest version: saving it again goes through.
    version = re.search(r'name="version_signed" value="(\d+)"', body).group(1)
    assert version == str(row.version_id)
    assert client.post("/admin/deadlines", data={**opened, "version_signed": version}).status_code == 302
    assert _deadline(db, "signed").yellow_months == 5


def test_a_forged_version_is_stale_not_an_error(client, login_as, admin, db):
    login_as(admin)
    assert client.post("/admin/deadlines", data=_form(db, version_signed="x")).status_code == 409


def test_only_admins_edit_deadlines(client, login_as, db, ref):
    login_as(make_user("manager", ref.city))
    assert client.get("/admin/deadlines").status_code == 403
    assert client.post("/admin/deadlines", data={"yellow_signed": "1"}).status_code == 403
    assert _deadline(db, "signed").yellow_months == 3


# --- The light on the project page ---------------------------------------------------------------


def _page(client, project) -> str:
    body = client.get(f"/projects/{project.id}").get_data(as_text=True)
    start = body.index('id="progress"')
    return body[start:body.index("</section>", start)]


def test_project_page_light_at_the_boundaries(client, login_as, staff, db):
    today = today_local()
    p = make_project(stage="signed", signed_on=today - timedelta(days=200))
    login_as(staff)

    _set(db, p, due_on=today, red_on=today + timedelta(days=90))
    card = _page(client, p)
    assert "按期" in card and "逾期" not in card and "light-yellow" not in card  # due today: not late yet

    _set(db, p, due_on=today - timedelta(days=1))
    card = _page(client, p)
    assert "light-yellow" in card and "黄灯" in card and "逾期 1 天" in card

    _set(db, p, due_on=today - timedelta(days=91), red_on=today)
    card = _page(client, p)
    assert "light-yellow" in card and "逾期 91 天" in card  # red_on today: still yellow

    _set(db, p, red_on=today - timedelta(days=1))
    card = _page(client, p)
    assert "light-red" in card and "红灯" in card and "逾期 91 天" in card


@pytest.mark.parametrize("stage,reason", [("paused", "暂缓中的项目不亮灯"), ("terminated", "已终止的项目不亮灯"),
                                          ("full_capacity", "已达产，不再亮灯")])
def test_paused_terminated_and_full_capacity_are_not_lit(client, login_as, staff, db, stage, reason):
    today = today_local()
    p = make_project(stage="signed", signed_on=today - timedelta(days=500))
    # Even with stale dates far in the past on the row, the stage decides.
    _set(db, p, stage=stage, paused_from_stage="signed" if stage == "paused" else None,
         due_on=today - timedelta(days=300), red_on=today - timedelta(days=200))
    login_as(staff)
    card = _page(client, p)
    assert reason in card and "逾期" not in card and "light-red" not in card
    body = client.get("/projects/").get_data(as_text=True)
    assert "light-dot" not in body


def test_days_in_stage(client, login_as, staff, db):
    today = today_local()
    p = make_project(stage="signed", signed_on=today - timedelta(days=42))
    login_as(staff)
    assert "已在本阶段 42 天" in _page(client, p)


# --- The list: column, filter, sort --------------------------------------------------------------


@pytest.fixture()
def lit(db):
    """Four projects (days ago: due, red): due today (not lit), yellow by 1 day, yellow by 30
    (red_on today), red by 200."""
    today = today_local()
    made = {}
    for name, due, red in (("准时项目", 0, -90), ("黄灯一天项目", 1, -60), ("黄灯三十天项目", 30, 0),
                           ("红灯项目", 200, 100)):
        p = make_project(name=name, stage="signed", signed_on=today - timedelta(days=400))
        _set(db, p, due_on=today - timedelta(days=due), red_on=today - timedelta(days=red))
        made[name] = p
    return made


def _names(body: str) -> list[str]:
    return re.findall(r'<td class="name"><a href="/projects/\d+">([^<]+)</a>', body)


def test_list_lights_column(client, login_as, staff, lit):
    login_as(staff)
    body = client.get("/projects/").get_data(as_text=True)
    rows = {name: body[body.index(f">{name}</a>"):] for name in lit}
    rows = {name: text[:text.index("</tr>")] for name, text in rows.items()}
    assert "light-dot" not in rows["准时项目"]
    assert "light-yellow" in rows["黄灯一天项目"] and "1天" in rows["黄灯一天项目"]
    assert "light-yellow" in rows["黄灯三十天项目"] and "30天" in rows["黄灯三十天项目"]  # red_on today
    assert "light-red" in rows["红灯项目"] and "200天" in rows["红灯项目"]
    assert '<span class="sr-only">红灯</span>' in rows["红灯项目"]  # not colour alone


@pytest.mark.parametrize("lit_arg,expected", [
    ("", {"准时项目", "黄灯一天项目", "黄灯三十天项目", "红灯项目"}),
    ("any", {"黄灯一天项目", "黄灯三十天项目", "红灯项目"}),
    ("yellow", {"黄灯一天项目", "黄灯三十天项目"}),
    ("red", {"红灯项目"}),
    ("bogus", {"准时项目", "黄灯一天项目", "黄灯三十天项目", "红灯项目"}),
])
def test_list_lit_filter(client, login_as, staff, lit, lit_arg, expected):
    login_as(staff)
    resp = client.get(f"/projects/?lit={lit_arg}")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert set(_names(body)) == expected
    assert f"<strong>{len(expected)}</strong>" in body  # the totals line follows the filter
    if lit_arg in ("any", "yellow", "red"):
        assert f'<option value="{lit_arg}" selected>' in body


def test_list_sort_by_days_late(client, login_as, staff, lit, db):
    paused = make_project(name="暂缓项目", stage="paused", paused_from_stage="signed")
    _set(db, paused, due_on=None, red_on=None)
    login_as(staff)
    body = client.get("/projects/?sort=late").get_data(as_text=True)
    assert _names(body) == ["红灯项目", "黄灯三十天项目", "黄灯一天项目", "准时项目", "暂缓项目"]
    assert '<option value="late" selected>' in body
    body = client.get("/projects/?sort=late&lit=any").get_data(as_text=True)
    assert _names(body) == ["红灯项目", "黄灯三十天项目", "黄灯一天项目"]


@pytest.mark.parametrize("args", [{"lit": "any", "sort": "late"}, {"lit": "red"}, {"lit": "any", "sort": "investment"}])
def test_a_lights_list_is_not_read_through_the_archived_index(app, db, ref, args):
    """SQLite has no statistics: with an indexable "not archived" beside the lights filter it
    read every live project through the is_archived index (~210 ms at 100,000 projects)
    instead of the due-date or investment index that stops after a page."""
    from flask_login import login_user
    from sqlalchemy import and_, text

    from tracker.projects.queries import _LIST_COLUMNS, SORTS, ProjectFilters, _conditions

    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics")
    leader = make_user("leader", ref.city)
    f = ProjectFilters.from_args(args)
    with app.test_request_context():
        login_user(leader)
        query = select(*_LIST_COLUMNS).where(and_(*_conditions(leader, f))).order_by(*SORTS[f.sort]).limit(50)
        compiled = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_project_archived" not in plan and "USE TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_list_totals_count_signed_apart_from_negotiating_and_terminated(client, login_as, staff, db):
    make_project(name="签约甲", stage="signed", contracted_investment=Decimal("100000"))
    make_project(name="开工乙", stage="construction", contracted_investment=Decimal("50000"))
    make_project(name="在谈丙", stage="negotiating", signed_on=None, contracted_investment=Decimal("135000"))
    make_project(name="终止丁", stage="terminated", contracted_investment=Decimal("105000"))
    login_as(staff)
    body = client.get("/projects/").get_data(as_text=True)
    totals = body[body.index('class="totals"'):]
    totals = totals[:totals.index("</div>")]
    text = re.sub(r"<[^>]+>", "", totals)
    text = re.sub(r"\s+", " ", text)
    assert "签约项目 2 个 · 协议投资 15.00 亿元" in text
    assert "在谈 1 个 · 13.50 亿元" in text
    assert "终止 1 个 · 10.50 亿元" in text


def test_totals_line_hides_empty_categories(client, login_as, staff, db):
    make_project(name="签约甲", stage="signed")
    login_as(staff)
    body = client.get("/projects/").get_data(as_text=True)
    totals = body[body.index('class="totals"'):]
    totals = totals[:totals.index("</div>")]
    assert "在谈" not in totals and "终止" not in totals
