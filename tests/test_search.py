"""Keyword search through the trigram indexes (pg_trgm on PostgreSQL, FTS5 on SQLite): the
same answers as a substring match, for names as created, renamed and typed oddly."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text

from tests.factories import make_user
from tracker.core import datacache
from tracker.projects.models import Investor, Project
from tracker.projects.operations import NewProject, create_project, create_projects, update_project
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
    ("电池", {"固态电池项目"}),  # two characters: below a trigram, the pairs index
    ("吉利", {"年产10万套新能源汽车零部件项目"}), ("二期", {"Smart Factory 二期"}),  # the investor's; at the end
    ("sM", {"Smart Factory 二期"}), ("0%", {"Smart Factory 二期"}), ("E_", {"Smart Factory 二期"}),
    ("_R", {"Smart Factory 二期"}), ("%%", set()), ("__", set()), ('""', set()),
    ("池", {"固态电池项目"}), ("%", {"Smart Factory 二期"}),  # one character: the single characters' index
    ("吉", {"年产10万套新能源汽车零部件项目"}), ("期", {"Smart Factory 二期"}),  # the investor's; the last character
    ("s", {"Smart Factory 二期"}), ("Y", {"Smart Factory 二期"}), ("_", {"Smart Factory 二期"}),  # Latin: any case
    ("龘", set()),
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
    assert found("电池") == set() and found("储能") == {"钠离子储能项目"}  # two characters
    assert found("控股") == set() and found("吉利") == {"年产10万套新能源汽车零部件项目"}
    assert found("固") == set() and found("钠") == {"钠离子储能项目"}  # one character
    assert found("控") == set() and found("汽") == {"年产10万套新能源汽车零部件项目"}


def _grams_kept(db) -> dict[int, set[str]]:
    rows = db.session.execute(text("SELECT id, gram FROM project_name_gram")).all()
    kept: dict[int, set[str]] = {}
    for pid, gram in rows:
        kept.setdefault(pid, set()).add(gram)
    return kept


def _grams_of(name: str) -> set[str]:
    low = name.lower()  # the names here: ASCII and CJK, lower-cased alike by both databases
    return {low[i:i + 2] for i in range(len(low) - 1)} | set(low)


def test_grams_follow_every_write(db, ref, found):
    """The gram table, kept by triggers, holds exactly each name's characters and pairs after a
    create, several created in one INSERT (PostgreSQL: one statement trigger for the three
    rows), a rename to a name sharing some of them, a one-character name, and a delete."""
    staff, found = found
    values = {"unit_id": ref.huangyan.id, "industry_id": ref.industry.id, "contracted_investment": Decimal(10),
              "content": ""}
    create_projects(staff, [NewProject({**values, "name": f"批量导入储能{i}号"}, _investor(ref, "批量投资方"), "signed")
                            for i in range(3)])
    db.session.commit()
    assert found("储能") == {f"批量导入储能{i}号" for i in range(3)}
    project = db.session.execute(select(Project).where(Project.name == "固态电池项目")).scalar_one()
    update_project(staff, project, {"name": "固态锂电池二期项目"}, _investor(ref, "宁德时代"), project.version_id)
    db.session.commit()
    single = create_project(staff, {**values, "name": "港"}, _investor(ref, "批量投资方"), "signed")
    db.session.commit()
    assert found("港") == {"港"} and single.id in _grams_kept(db)
    other = db.session.execute(select(Project).where(Project.name.like("引号%"))).scalar_one()
    other_id = other.id
    db.session.delete(other)
    db.session.commit()
    names = dict(db.session.execute(select(Project.id, Project.name)).all())
    assert other_id not in names
    assert _grams_kept(db) == {pid: _grams_of(name) for pid, name in names.items()}


@pytest.mark.parametrize("q", ["电池", "池"])
def test_one_or_two_characters_are_looked_up_in_the_index(db, found, q):
    """The one- and two-character conditions read the gram tables' keys (PostgreSQL: with
    sequential scans ruled out), for the project and the investor side."""
    from tracker.projects.search import matching_projects

    query = select(Project.id).where(matching_projects(q))
    compiled = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
        assert "project_name_gram_pkey" in plan and "investor_name_gram_pkey" in plan, plan
    else:
        rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        plan = "\n".join(row[-1] for row in rows)
        assert "project_name_gram USING PRIMARY KEY" in plan and "investor_name_gram USING PRIMARY KEY" in plan, plan
        assert "SCAN project" not in plan.replace("SCAN project_name_gram", ""), plan
    db.session.rollback()


def test_another_units_projects_are_not_found(db, ref, found):
    _staff, found = found
    assert found("新能源", make_user("staff", ref.linhai)) == set()


# --- The migration that added single characters to the pairs (e2f3a4b5c6d7) ---------------------

PAIRS_ONLY = "d1e2f3a4b5c6"  # the revision before: pairs only


@pytest.fixture()
def pairs_only_db(database_url, tmp_path):
    """An app on a scratch database migrated to the revision before single characters."""
    from tests.databases import scratch_app
    from tracker.extensions import db as _db

    with scratch_app(database_url, "grams", tmp_path, revision=PAIRS_ONLY):
        yield _db


def _kept_in(db, table: str) -> dict[int, set[str]]:
    kept: dict[int, set[str]] = {}
    for row_id, gram in db.session.execute(text(f"SELECT id, gram FROM {table}")).all():
        kept.setdefault(row_id, set()).add(gram)
    db.session.rollback()
    return kept


def _pairs_of(name: str) -> set[str]:
    low = name.lower()
    return {low[i:i + 2] for i in range(len(low) - 1)}


def test_the_migration_fills_in_and_takes_out_single_characters(pairs_only_db):
    """Names written before the migration get their single characters (both tables, Latin
    lower-cased, a one-character name); the downgrade takes them out and its triggers keep
    pairs only again."""
    from flask_migrate import downgrade, upgrade

    from tests.factories import make_investor, make_project

    db = pairs_only_db
    names = {"港": "Acme 港务", "Smart 港湾二期": "港", "年产10万套新能源汽车零部件项目": "浙江吉利控股集团"}
    made = [make_project(name=name, investor=make_investor(name=investor)) for name, investor in names.items()]
    projects = {p.id: p.name for p in made}
    investors = {p.investor_id: p.investor.name for p in made}
    db.session.commit()
    db.session.remove()
    assert _kept_in(db, "project_name_gram") == {i: _pairs_of(n) for i, n in projects.items() if len(n) > 1}

    upgrade()
    db.session.remove()
    assert _kept_in(db, "project_name_gram") == {i: _grams_of(n) for i, n in projects.items()}
    assert _kept_in(db, "investor_name_gram") == {i: _grams_of(n) for i, n in investors.items()}

    downgrade(revision=PAIRS_ONLY)
    db.session.remove()
    assert _kept_in(db, "project_name_gram") == {i: _pairs_of(n) for i, n in projects.items() if len(n) > 1}
    assert _kept_in(db, "investor_name_gram") == {i: _pairs_of(n) for i, n in investors.items() if len(n) > 1}
    later = make_project(name="药谷", investor=make_investor(name="药"))
    db.session.commit()
    assert _kept_in(db, "project_name_gram")[later.id] == {"药谷"}
    assert later.investor_id not in _kept_in(db, "investor_name_gram")
