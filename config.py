"""Configuration read from the environment.

Only what differs between machines comes from the environment; everything else is a
sensible default here. ``SECRET_KEY`` is never a constant in the code: when unset it is
generated once and kept in ``instance/secret_key`` so sessions survive restarts; likewise
``AUDIT_KEY`` (the audit chain's HMAC key) in ``instance/audit_key``.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("TRACKER_INSTANCE_DIR", BASE_DIR / "instance"))


def _secret_key(name: str = "SECRET_KEY", filename: str = "secret_key") -> str:
    """The environment's value of ``name``, else one generated once into ``instance/filename``."""
    key = os.environ.get(name)
    if key:
        return key
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / filename
    if not path.exists():
        # Written whole under a name of its own, then linked into place (the link fails if the
        # file exists): two workers starting at once neither write two different keys nor read
        # a half-written one (an empty AUDIT_KEY failed every commit of one test worker in CI).
        tmp = path.with_name(f".{filename}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process's key won: read it below
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the driver-less scheme; we use psycopg 3.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'tracker.db'}"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = None  # filled lazily by load(); see _secret_key
    SQLALCHEMY_DATABASE_URI = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # Uploads (attachments) are bounded; forms are small.
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 12 * 3600
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    # Login throttling: counters in Redis when REDIS_URL is set (shared by all workers),
    # in process memory otherwise (fine for one process and for tests).
    RATELIMIT_STORAGE_URI = "memory://"
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 5 minutes"
    LOGIN_LIMIT_PER_IP = "30 per 5 minutes"
    # PDFs and jobs run in PDF_WORKERS warm worker processes per web process (tracker/jobs);
    # jobs take at most JOB_WORKERS of them (0: one fewer than PDF_WORKERS, at least one).
    PDF_WORKERS = 2
    # Finished booklets and order sheets kept by their content (tracker/briefs/pdf_cache.py):
    # how many files at most (0: none) and where (default instance/pdf-cache); briefs apart,
    # in its briefs folder, so that they never push a booklet out.
    PDF_CACHE_FILES = 64
    PDF_BRIEF_CACHE_FILES = 256
    JOB_WORKERS = 0
    # A web process starts serving once a PDF worker is warm, waiting at most this long (s).
    PDF_WARM_UP_WAIT = 15


def load(overrides: dict | None = None) -> dict:
    """Return the configuration mapping for ``create_app``."""
    cfg = {k: getattr(Config, k) for k in dir(Config) if k.isupper()}
    cfg["SQLALCHEMY_DATABASE_URI"] = _database_url()
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        cfg["RATELIMIT_STORAGE_URI"] = redis_url
    cfg["SESSION_COOKIE_SECURE"] = _bool("SESSION_COOKIE_SECURE", False)
    # Behind one reverse proxy (nginx) set TRUST_PROXY=1 so the client address (login
    # throttling per IP) and the scheme come from X-Forwarded-For / X-Forwarded-Proto.
    cfg["TRUST_PROXY"] = _bool("TRUST_PROXY", False)
    cfg["REMEMBER_COOKIE_SECURE"] = cfg["SESSION_COOKIE_SECURE"]
    for key in ("PDF_WORKERS", "JOB_WORKERS"):
        if os.environ.get(key, "").strip().isdigit():
            cfg[key] = int(os.environ[key])
    if overrides:
        cfg.update(overrides)
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _secret_key()
    # Keys the audit log's hash chain (HMAC); kept outside the database on purpose.
    if not cfg.get("AUDIT_KEY"):
        cfg["AUDIT_KEY"] = _secret_key("AUDIT_KEY", "audit_key")
    return cfg
