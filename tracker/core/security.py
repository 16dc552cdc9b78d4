"""Response headers applied to every response."""
from __future__ import annotations

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


# One year. No includeSubDomains/preload: other hosts under the city's domain are not ours.
HSTS = "max-age=31536000"


def register(app) -> None:
    # Served over HTTPS (cookies marked Secure): browsers must not fall back to plain HTTP.
    hsts = HSTS if app.config.get("SESSION_COOKIE_SECURE") else None

    @app.after_request
    def headers(resp):
        if hsts:
            resp.headers.setdefault("Strict-Transport-Security", hsts)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        if resp.mimetype == "text/html":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp
