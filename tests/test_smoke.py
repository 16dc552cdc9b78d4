def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "db": "ok"}


def test_login_page_is_chinese(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    assert "台州招商项目全周期管理" in resp.get_data(as_text=True)


def test_factories_build_a_project(db, ref):
    from tests.factories import make_project

    p = make_project()
    assert p.id and p.unit is ref.huangyan


def test_favicon_is_served_without_login(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 301 and resp.headers["Location"].endswith("/static/favicon.svg")
    assert client.get("/static/favicon.svg").status_code == 200
