"""Every portal route, with real ids filled in: what the access and hostile-input tests walk."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.branding.models import AccessCode
from app.db import session

OPEN_ROUTES = {  # reachable without signing in
    "portal.static",
    "portal.sign_in",
    "portal.second_factor",
    "portal.two_factor_setup",
    "portal.sign_out",
    "portal.invitation",
}


def code_id_of(app, brand_id: int) -> int:
    with app.app_context():
        return session().scalar(select(AccessCode.id).where(AccessCode.brand_id == brand_id).limit(1))


def portal_routes(app):
    """(endpoint, rule, methods) of every portal route behind sign-in."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("portal.")]
    guarded = [r for r in rules if r.endpoint not in OPEN_ROUTES]
    for rule in guarded:  # a new route must be guarded (or listed above as open)
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "portal_roles", None), f"{rule.endpoint} has no @portal_view"
    return guarded


def path_of(rule, seeded, app) -> str:
    values = {"brand_id": seeded.brand_id, "code_id": code_id_of(app, seeded.brand_id)}
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)
