"""Shared set-up for benchmarks: a migrated scratch database filled with N projects."""
from __future__ import annotations

import os
import random
import tempfile
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import create_engine, func, insert, select, text

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench")


def database_url(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='tracker-bench-')}/bench.db"
    base, _, name = PG_URL.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_URL


def make_app(url: str):
    from flask_migrate import upgrade

    from tracker import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
    return app


def fill(app, n_projects: int, seed: int = 7) -> dict:
    """Reference data + demo users (via the seed loader) + n synthetic projects."""
    from tracker.auth.models import Unit
    from tracker.extensions import db
    from tracker.projects import tally
    from tracker.projects.models import Industry, Investor, Project, SourceRegion
    from tracker.seeding import load_demo

    rng = random.Random(seed)
    with app.app_context():
        load_demo()
        db.session.commit()
        units = db.session.execute(select(Unit.id)).scalars().all()
        industries = db.session.execute(select(Industry.id)).scalars().all()
        regions = db.session.execute(select(SourceRegion.id)).scalars().all()
        start_inv = db.session.execute(select(func.coalesce(func.max(Investor.id), 0))).scalar()
        n_inv = max(1, n_projects // 2)
        db.session.execute(insert(Investor), [
            {"name": f"基准测试投资公司{i:06d}", "uscc": None, "source_region_id": rng.choice(regions),
             "country": "中国", "introduction": "", "unit_id": rng.choice(units), "version_id": 1}
            for i in range(n_inv)
        ])
        inv_ids = db.session.execute(select(Investor.id).where(Investor.id > start_inv)).scalars().all()
        stages = ["signed", "registered", "land_secured", "construction", "completed", "production",
                  "full_capacity", "paused", "terminated", "negotiating"]
        batch = []
        for i in range(n_projects):
            stage = rng.choice(stages)
            batch.append({
                "name": f"基准项目{i:06d}·{rng.choice(['新能源', '新材料', '医药', '汽车零部件', '算力中心'])}",
                "investor_id": rng.choice(inv_ids), "industry_id": rng.choice(industries),
                "unit_id": rng.choice(units), "stage": stage,
                "paused_from_stage": "construction" if stage == "paused" else None, "status_reason": "",
                "signed_on": date(2020, 1, 1) + timedelta(days=rng.randrange(0, 2500)),
                "contracted_investment": Decimal(rng.choice([5000, 20000, 80000, 120000, 600000, 1500000])),
                "funds_in_place": Decimal(0), "content": "基准测试数据", "is_archived": False,
                "is_provincial_major": False, "is_qianxiang_wanyi": False, "is_yrd_major": False,
                "version_id": 1,
            })
            if len(batch) == 5000:
                db.session.execute(insert(Project), batch)
                batch = []
        if batch:
            db.session.execute(insert(Project), batch)
        tally.fold(0)  # a row each in the project tally, as any bulk insert: summed up
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        return {"projects": db.session.execute(select(func.count(Project.id))).scalar()}


def sign_in(app, client, username: str) -> None:
    """Give the test ``client`` a signed-in browser session for ``username``."""
    from tracker.auth.models import User
    from tracker.auth.operations import start_session
    from tracker.auth.views import SESSION_SECRET_KEY
    from tracker.core.db import writing
    from tracker.extensions import db

    with app.app_context(), writing():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        token = user.get_id()
        secret = start_session(user)
        db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess[SESSION_SECRET_KEY] = secret
        sess["_fresh"] = True
