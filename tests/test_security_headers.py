"""HSTS: sent when the app is served over HTTPS (``SESSION_COOKIE_SECURE=1``), not otherwise."""
from __future__ import annotations

import pytest


@pytest.fixture()
def https_app(database_url, tmp_path):
    from tracker import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": database_url,
                       "SESSION_COOKIE_SECURE": True, "RATELIMIT_STORAGE_URI": "memory://",
                       "UPLOAD_DIR": str(tmp_path / "uploads")})


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/favicon.svg", "/no-such-page"])
def test_hsts_when_cookies_are_secure(https_app, path):
    with https_app.app_context():
        resp = https_app.test_client().get(path, base_url="https://tracker.test")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_no_hsts_on_plain_http_deployments(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    assert "Strict-Transport-Security" not in resp.headers
