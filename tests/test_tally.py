"""The project tally (``projects.tally``): the list's totals kept by triggers on ``project``
equal a fresh count of the projects after every kind of change — through the operations and
straight in SQL (what bypasses the app: an import script, a fix by hand) — and after folding."""
from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import and_, func, select, text

from tests.factories import make_project, make_user
from tracker.projects import tally
from tracker.projects.queries import ProjectFilters, _conditions, totals

FILTERS = [{}, {"stage": "signed"}, {"stage": "construction"}, {"stage": "paused"}, {"stage": "terminated"},
           {"archived": "1"}, {"unit": "HY"}, {"unit": "LH", "stage": "signed"}]


@pytest.fixture()
def agree(app, db, ref):
    """``agree(label)``: for the city and two counties, every filter the tally covers gives the
    same totals from the tally as from counting the projects."""
    people = [make_user("leader", ref.city), make_user("staff", ref.huangyan), make_user("staff", ref.linhai)]
    units = {"HY": ref.huangyan.id, "LH": ref.linhai.id}

    def _agree(label: str) -> None:
        db.session.flush()
        for user in people:
            for args in FILTERS:
                f = ProjectFilters.from_args({k: str(units.get(v, v)) for k, v in args.items()})
                assert tally.covers(f)
                with app.test_request_context():
                    assert tally.totals(user, f) == totals(and_(*_conditions(user, f))), (label, user.unit_id, args)

    return _agree


def _sql(db, statement: str, **params) -> None:
    db.session.execute(text(statement), params)


def test_the_tally_follows_every_change(db, ref, agree):
    agree("empty")
    a = make_project(unit=ref.huangyan, name="计数一", stage="signed", contracted_investment=Decimal("12345.67"))
    b = make_project(unit=ref.huangyan, name="计数二", stage="construction", contracted_investment=Decimal("0.29"))
    c = make_project(unit=ref.linhai, name="计数三", stage="negotiating", contracted_investment=Decimal(500))
    agree("created")
    increase = make_project(unit=ref.huangyan, name="计数一增资", stage="signed", increase_of_id=a.id,
                            contracted_investment=Decimal("1000.01"))
    agree("增资: in the sums, not counted")
    _sql(db, "UPDATE project SET contracted_investment = :v WHERE id = :id", v="99999.99", id=a.id)
    agree("investment")
    _sql(db, "UPDATE project SET funds_in_place = :v WHERE id = :id", v="321.5", id=b.id)
    agree("funds in place")
    _sql(db, "UPDATE project SET stage = 'paused', paused_from_stage = 'construction' WHERE id = :id", id=b.id)
    agree("paused: counted at the stage it paused in")
    _sql(db, "UPDATE project SET stage = 'construction', paused_from_stage = NULL WHERE id = :id", id=b.id)
    _sql(db, "UPDATE project SET stage = 'terminated' WHERE id = :id", id=c.id)
    agree("resumed, terminated")
    _sql(db, "UPDATE project SET unit_id = :u WHERE id = :id", u=ref.linhai.id, id=a.id)
    agree("moved to another unit")
    _sql(db, "UPDATE project SET is_archived = :t WHERE id = :id", t=True, id=c.id)
    agree("archived")
    _sql(db, "UPDATE project SET increase_of_id = NULL WHERE id = :id", id=increase.id)
    agree("no longer a 增资")
    _sql(db, "UPDATE project SET name = '计数一（改名）', content = 'x' WHERE id = :id", id=a.id)
    agree("a change the tally does not count")
    _sql(db, "DELETE FROM project WHERE id = :id", id=increase.id)
    agree("deleted")


def test_fold_sums_the_rows_and_changes_no_total(db, ref, agree):
    project = make_project(unit=ref.huangyan, name="折叠", stage="signed", contracted_investment=Decimal(100))
    for v in range(1, 30):
        _sql(db, "UPDATE project SET contracted_investment = :v WHERE id = :id", v=f"{v}.05",
             id=project.id)
    gone = make_project(unit=ref.linhai, name="折叠后删除", stage="signed")
    _sql(db, "DELETE FROM project WHERE id = :id", id=gone.id)
    db.session.flush()
    rows = db.session.execute(select(func.count()).select_from(tally.ProjectTally)).scalar_one()
    assert not tally.fold(above=rows)  # not long enough yet
    assert tally.fold(above=0)
    agree("folded")
    keys = db.session.execute(select(tally.ProjectTally)).scalars().all()
    assert len(keys) == len({(k.unit_id, k.is_archived, k.stage, k.paused_from_stage, k.is_first) for k in keys})
    assert all(k.n or k.investment_fen or k.funds_fen for k in keys)  # keys summing to nothing are dropped
    _sql(db, "UPDATE project SET stage = 'registered' WHERE id = :id", id=project.id)
    agree("a change after folding")


def test_filters_the_tally_does_not_keep_count_the_projects():
    """Every filter but scope, unit, stage and archived — a keyword, an industry, a period, …,
    and any added later — is not a key of the tally: those totals count the projects."""
    kept = {"stage", "unit", "archived", "sort", "page", "problems"}
    odd = {str: "x", int: 1, bool: True, date: date(2024, 6, 30)}
    for field in fields(ProjectFilters):
        if field.name in kept:
            continue
        default = getattr(ProjectFilters(), field.name)
        # None: an optional date or id (the field's type is its annotation's text)
        value = odd[type(default)] if default is not None else odd[date if "date" in str(field.type) else int]
        assert not tally.covers(replace(ProjectFilters(), **{field.name: value})), field.name
    assert tally.covers(replace(ProjectFilters(), stage="signed", unit=3, archived=True, sort="name", page=7))


def test_the_list_page_reads_the_tally(app, client, db, ref):
    """The list's totals line for covered filters costs one small statement, whatever the
    number of projects; the figures shown are the tally's."""
    from tests.factories import sign_in

    for i in range(3):
        make_project(unit=ref.huangyan, name=f"列表计数{i}", stage="signed", contracted_investment=Decimal(10000),
                     signed_on=date(2024, 3, 1))
    sign_in(client, make_user("staff", ref.huangyan))
    db.session.commit()
    from tests.factories import count_queries
    from tracker.core import datacache

    datacache.clear()
    with count_queries(db) as statements:
        page = client.get("/projects/?stage=signed").get_data(as_text=True)
    assert any("project_tally" in sql for sql in statements)
    assert not any("FROM project WHERE" in sql and "sum(" in sql.lower() for sql in statements)
    shown = page[page.index('class="totals"'):]
    assert "<strong>3</strong>" in shown[:400] and "3.00" in shown[:400]  # 3 projects, 3.00 亿元
