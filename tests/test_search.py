"""Keyword search through the trigram indexes (pg_trgm on PostgreSQL, FTS5 on SQLite): the
same answers as a substring match, for names as created, renamed and typed oddly."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import make_user
from tracker.core import datacache
from tracker.projects.models import Investor, Project
from tracker.projects.operations import create_project, update_project
from tracker.projects.queries import ProjectFilters, project_page


def _investor(ref, name: str) -> dict:
    return {"name": name, "uscc": None, "source_region_id": ref.region.id, "country": "中国"}


@pytest.fixture()
def found(app, db, ref):
    staff = make_user("staff", ref.huangyan)
    values = {"unit_id": ref.huangyan.id, "industry_id": ref.industry.id, "contracted_investment": Decimal(1000),
              "content": ""}
    for name, investor in [("年产10万套新能源汽车零部件项目", "浙江吉利控股集团"), ("Smart Factory 二期", "ACME_Robotics 100%"),
                           ("固态电池项目", "宁德时代"), ('引号"测试"项目', "某某科技")]:
        create_project(staff, {**values, "name": name}, _investor(ref, investor), "signed")
    db.session.commit()

    def _found(q: str, user=staff) -> set[str]:
        datacache.clear()
        with app.test_request_context():
            page, totals = project_page(user, ProjectFilters.from_args({"q": q}))
        assert totals.rows == len(page.items)
        return {p.name for p in page.items}

    return staff, _found


@pytest.mark.parametrize("q,names", [
    ("新能源", {"年产10万套新能源汽车零部件项目"}),  # inside a project name
    ("吉利控股", {"年产10万套新能源汽车零部件项目"}),  # its investor's name
    ("电池", {"固态电池项目"}),  # two characters: below a trigram, a plain substring match
    ("项目", {"年产10万套新能源汽车零部件项目", "固态电池项目", '引号"测试"项目'}),
    ("smart factory", {"Smart Factory 二期"}),  # ASCII case-insensitive, as LIKE is
    ("100%", {"Smart Factory 二期"}),  # % and _ are text, not wildcards
    ("E_R", {"Smart Factory 二期"}), ("E%R", set()), ("X_Ro", set()),
    ('"测试"', {'引号"测试"项目'}),  # quotes are text, not FTS query syntax
    ("NEAR", set()), ("AND OR", set()),
    ("不存在的名称", set()),
])
def test_keyword_matches_substrings(found, q, names):
    _staff, found = found
    assert found(q) == names


def test_renames_are_found_under_the_new_name(db, ref, found):
    staff, found = found
    project = db.session.execute(select(Project).where(Project.name == "固态电池项目")).scalar_one()
    update_project(staff, project, {"name": "钠离子储能项目"}, _investor(ref, "宁德时代"), project.version_id)
    investor = db.session.execute(select(Investor).where(Investor.name == "浙江吉利控股集团")).scalar_one()
    investor.name = "吉利汽车集团有限公司"
    db.session.commit()
    assert found("固态电池") == set() and found("钠离子储能") == {"钠离子储能项目"}
    assert found("吉利控股") == set() and found("吉利汽车集团") == {"年产10万套新能源汽车零部件项目"}


def test_another_units_projects_are_not_found(db, ref, found):
    _staff, found = found
    assert found("新能源", make_user("staff", ref.linhai)) == set()
