"""The demo seed (tracker.seeding, seeds/*.yaml): idempotent, valid and complete."""
from __future__ import annotations

from datetime import date
from functools import lru_cache

import pytest
import yaml
from sqlalchemy import func, select

from tracker import seeding
from tracker.audit.models import AuditEntry
from tracker.auth.models import Unit, User
from tracker.auth.passwords import hash_password
from tracker.ceremonies.models import Ceremony, CeremonySigning
from tracker.core.uscc import is_valid
from tracker.projects.models import Industry, Investor, Platform, Project, SourceRegion
from tracker.workflow.models import Milestone
from tracker.workflow.stages import CODES, MAIN_CODES

DEMO_PASSWORD = "taizhou2024"
DEMO_USERS = {  # username: (role, unit code)
    "admin": ("admin", "city"),
    "leader": ("leader", "city"),
    "staff_city": ("staff", "city"),
    "manager_city": ("manager", "city"),
    "staff_hy": ("staff", "huangyan"),
    "manager_hy": ("manager", "huangyan"),
    "staff_lh": ("staff", "linhai"),
    "manager_lh": ("manager", "linhai"),
}
Q4 = "台州市2024(第四季)重大招商项目签约仪式"
SH_WEEK = "2023上海·台州周活动开幕式暨台州城市推介大会"
FACT_PROJECTS = [
    "清陶固态锂电池项目", "台州湾新材料产业园", "中昊芯英AI算力产业基地", "玉环机钢项目",
    "特凯斯新材料项目", "海亿新能源科技氢能项目", "蜂巢无人机项目", "新东数字经济产业园",
    "韩国BSG集团化妆品工厂项目", "福科能源光伏电池组化生产基地项目", "妙月航天微纳卫星生产基地项目",
    "浙东南算力中心", "上海电气（台州）海上风电装备产业基地项目", "酷哇科技智能环卫无人车生产基地项目",
]
TABLES = (Unit, Industry, SourceRegion, Platform, User, Investor, Project, Milestone, Ceremony,
          CeremonySigning, AuditEntry)

# argon2 is slow on purpose (and slower on a busy CI box): hash the demo password once per
# test process. It is still a real argon2 hash of the demo password, so logins are real.
_hash_once = lru_cache(maxsize=4)(hash_password)


@pytest.fixture()
def fast_hash(monkeypatch):
    monkeypatch.setattr(seeding, "hash_password", _hash_once)


def _table_counts(db) -> dict[str, int]:
    return {m.__tablename__: db.session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in TABLES}


def _one(db, model, **by):
    return db.session.execute(select(model).filter_by(**by)).scalar_one()


def test_load_reference_is_idempotent(db):
    first = seeding.load_reference()
    counts = _table_counts(db)
    second = seeding.load_reference()
    assert _table_counts(db) == counts
    assert all(v == 0 for v in second.values()), second
    assert set(first) == {"units", "industries", "source_regions", "platforms", "updated"}

    units = {u.code: u for u in db.session.execute(select(Unit)).scalars()}
    assert {"city", "jiaojiang", "huangyan", "luqiao", "linhai", "wenling", "yuhuan", "tiantai",
            "xianju", "sanmen", "taizhouwan"} <= set(units)
    assert units["city"].is_city and units["city"].name == "台州市投资促进中心"
    assert not units["huangyan"].is_city and units["huangyan"].name == "黄岩区"

    groups = dict(db.session.execute(select(Industry.name, Industry.group)).all())
    assert sum(1 for g in groups.values() if g == "核心产业") == 5
    assert {"低空经济", "算力/人工智能", "氢能", "半导体", "合成生物", "机器人"} <= {
        n for n, g in groups.items() if g == "未来产业"}
    regions = {r.name: r for r in db.session.execute(select(SourceRegion)).scalars()}
    assert {n for n, r in regions.items() if r.is_yrd} == {"上海", "江苏", "安徽", "浙江省内台州市外"}
    assert regions["境外"].is_foreign and not regions["台州市内"].is_yrd
    platform = _one(db, Platform, name="台州湾经济技术开发区")
    assert platform.unit.code == "linhai"


def test_load_reference_matches_rows_made_elsewhere(db, ref):
    # tests/factories.py made some of the same rows (with other sort orders): matched, not duplicated.
    seeding.load_reference()
    assert db.session.execute(select(func.count()).select_from(Unit).where(Unit.code == "huangyan")).scalar_one() == 1
    assert db.session.execute(
        select(func.count()).select_from(Platform).where(Platform.name == "黄岩经济开发区")
    ).scalar_one() == 1
    assert _one(db, Industry, name="低空经济").group == "未来产业"


def test_load_demo_twice_gives_the_same_data(db, fast_hash):
    before = _table_counts(db)
    first = seeding.load_demo()
    after_first = _table_counts(db)
    second = seeding.load_demo()
    assert _table_counts(db) == after_first
    assert all(v == 0 for v in second.values()), second

    assert first["projects"] >= 45 and first["ceremonies"] == 2 and first["signings"] == 37
    assert first["users"] >= len(DEMO_USERS) and first["investors"] >= 45
    for table, key in (("project", "projects"), ("investor", "investors"), ("user", "users"),
                       ("ceremony", "ceremonies"), ("ceremony_signing", "signings"),
                       ("milestone", "milestones")):
        assert after_first[table] - before[table] == first[key]
    # One seed.create audit entry per created user, investor, project and ceremony.
    seeded = db.session.execute(
        select(AuditEntry.object_type, func.count()).where(AuditEntry.action == "seed.create")
        .group_by(AuditEntry.object_type)
    ).all()
    assert dict(seeded) == {"user": first["users"], "investor": first["investors"],
                            "project": first["projects"], "ceremony": first["ceremonies"]}


def test_demo_data_is_valid_and_complete(db, fast_hash):
    seeding.load_demo()

    investors = db.session.execute(select(Investor)).scalars().all()
    assert investors and all(i.uscc and is_valid(i.uscc) for i in investors)
    assert any(all(ch in i.introduction for ch in "龘堃喆𠮷") for i in investors)
    assert any(i.source_region.is_foreign and i.country == "韩国" for i in investors)

    projects = db.session.execute(select(Project)).scalars().all()
    assert len(projects) >= 45
    assert {p.stage for p in projects} == set(CODES)
    by_unit: dict[str, int] = {}
    for p in projects:
        by_unit[p.unit.code] = by_unit.get(p.unit.code, 0) + 1
    assert by_unit["huangyan"] >= 8 and len(by_unit) >= 8
    assert len({p.industry_id for p in projects}) >= 10
    for p in projects:
        assert p.owner is not None and p.owner.role == "staff"
        assert p.owner.unit_id == p.unit_id or p.owner.unit.is_city
        if p.stage == "negotiating":
            assert p.signed_on is None
        else:
            assert date(2023, 1, 1) <= p.signed_on <= date(2026, 12, 31)
        assert p.funds_in_place <= p.contracted_investment
        assert (p.stage == "paused") == (p.paused_from_stage is not None)
        if p.stage in ("paused", "terminated"):
            assert p.status_reason
        if p.stage in MAIN_CODES and MAIN_CODES.index(p.stage) >= MAIN_CODES.index("registered"):
            assert p.company_uscc and is_valid(p.company_uscc)

    names = {p.name: p for p in projects}
    assert set(FACT_PROJECTS) <= set(names)
    assert names["清陶固态锂电池项目"].unit.code == "huangyan"
    assert names["清陶固态锂电池项目"].is_provincial_major and names["清陶固态锂电池项目"].is_qianxiang_wanyi
    assert names["浙东南算力中心"].unit.code == "huangyan"
    assert names["新东数字经济产业园"].unit.code == "linhai"
    assert names["韩国BSG集团化妆品工厂项目"].contracted_investment == 15000  # 1.5亿元 in 万元
    assert names["台州湾新材料产业园"].contracted_investment == 14800000  # 约1480亿元
    started = _one(db, Milestone, project_id=names["新东数字经济产业园"].id, stage="construction")
    assert started.actual_on == date(2024, 11, 26)

    q4 = _one(db, Ceremony, name=Q4)
    assert q4.held_on == date(2024, 12, 20) and q4.unit.is_city
    assert len(q4.signings) == 31
    assert [s.position for s in q4.signings] == list(range(1, 32))
    assert q4.signings[0].project.name == "中昊芯英AI算力产业基地"
    assert all(s.project.signed_on == q4.held_on for s in q4.signings)
    assert all(s.signatory_local and s.signatory_investor for s in q4.signings)
    shanghai = _one(db, Ceremony, name=SH_WEEK)
    assert shanghai.held_on == date(2023, 7, 4) and "上海" in shanghai.venue
    assert {s.project.industry.name for s in shanghai.signings} == {"新材料", "新能源", "未来汽车", "文旅"}

    users = {u.username: u for u in db.session.execute(select(User)).scalars()}
    for username, (role, unit_code) in DEMO_USERS.items():
        assert users[username].role == role and users[username].unit.code == unit_code


def test_demo_users_can_log_in(db, client, fast_hash):
    seeding.load_demo()
    for username, (_role, _unit) in DEMO_USERS.items():
        resp = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
        assert resp.status_code == 302, username
        location = resp.headers["Location"]
        assert "/login" not in location
        assert location.endswith("/today/"), location  # every role's home page (tracker.home)
        # Log out again: the test's app context (and so flask.g) spans all these requests.
        assert client.post("/logout").status_code == 302
    resp = client.post("/login", data={"username": "staff_hy", "password": "wrong-password-1"})
    assert resp.status_code == 200


def test_every_seed_record_says_what_is_invented():
    demo = yaml.load((seeding.SEED_DIR / "demo.yaml").read_text(encoding="utf-8"),
                     Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for user in demo["users"]:  # accounts are the project's own; their people are invented
        assert "display_name" in user["invented"], user["username"]
    for kind in ("investors", "projects", "ceremonies"):
        for row in demo[kind]:
            assert row.get("invented"), (kind, row["name"])
            assert row["invented"] == "all" or row.get("sources"), row["name"]


def test_bad_seed_files_are_rejected(db, tmp_path):
    (tmp_path / "reference.yaml").write_text(
        (seeding.SEED_DIR / "reference.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "demo.yaml").write_text(
        "investors:\n  - {name: 坏代码公司, uscc: 91350100M000100Y44, source_region: 上海}\n",
        encoding="utf-8")
    with pytest.raises(seeding.SeedError, match="统一社会信用代码"):
        seeding.load_demo(tmp_path)
    (tmp_path / "demo.yaml").write_text(
        "investors:\n  - {name: 某公司, uscc: 91350100M000100Y43, source_region: 上海, colour: red}\n",
        encoding="utf-8")
    with pytest.raises(seeding.SeedError, match="unknown field"):
        seeding.load_demo(tmp_path)
