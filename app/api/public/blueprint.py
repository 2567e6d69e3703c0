"""The ``/v1`` blueprint and the per-worker state its routes read (Flask side of the public surface)."""

from __future__ import annotations

from flask import Blueprint, current_app

from app.api.public.cache import PublicAnswers
from app.api.public.upgrade_cache import UpgradeAnswers
from app.storage import Stores

bp = Blueprint("public", __name__, url_prefix="/v1")


def public_answers() -> PublicAnswers:
    """This worker's precomputed public answers."""
    return current_app.extensions["livery.public"]


def upgrade_answers() -> UpgradeAnswers:
    """This worker's cached upgrade state."""
    return current_app.extensions["livery.upgrades"]


def stores() -> Stores:
    """The deployment's object stores."""
    return current_app.extensions["livery.stores"]
