"""Screens of tracker.funds (filled in by its owner)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("funds", __name__)
