"""The public surface ``/v1``: what installed clients call. The hot path; see cache.py."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__, url_prefix="/v1")

from app.api.public import assets, discovery, licences, upgrade  # noqa: E402,F401  (routes register on bp)
