"""JSON API v1 (token-authenticated; see views.py)."""

API_PREFIX = "/api/"


def is_api_path(path: str) -> bool:
    """Requests the API answers: JSON errors, token login only, never a session cookie."""
    return path.startswith(API_PREFIX)
