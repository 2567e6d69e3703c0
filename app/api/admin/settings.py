"""Operator settings that apply to every partner, such as the standard CRM viewer's URL."""

from __future__ import annotations

import hashlib

import marshmallow as ma
from flask import current_app

from app.api.admin import fields
from app.api.admin.auth import admin_blueprint, require_operator
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_for, require_if_match
from app.api.admin.spec import problems
from app.api.admin.validators import https_url
from app.db import session
from app.partners.services import SETTING_STANDARD_VIEWER_URL, get_setting, set_setting

blp = admin_blueprint("settings", "Deployment-wide settings. Operators only.")


class SettingsIn(ma.Schema):
    standard_viewer_url = fields.String(
        required=True,
        validate=https_url,
        metadata={"description": "The CRM viewer CI-B clients (and CI-C ones without their own) open."},
    )


class SettingsOut(ma.Schema):
    standard_viewer_url = fields.String()
    etag = fields.String()


def current_settings() -> dict[str, str]:
    """The operator settings and their ETag (the admin API and the portal's settings page read them here)."""
    default = current_app.config["LIVERY"].default_viewer_url
    values = {"standard_viewer_url": get_setting(session(), SETTING_STANDARD_VIEWER_URL, default)}
    # settings rows have no version column: the ETag is derived from the values themselves
    digest = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()[:16]
    return values | {"etag": etag_for("settings", "operator", digest)}


@blp.route("/settings", methods=["GET"])
@blp.response(200, SettingsOut, headers=ETAG_HEADER)
@problems(blp, 403)
def get():
    """Read the operator settings."""
    require_operator()
    current = current_settings()
    return current, {"ETag": current["etag"]}


@blp.route("/settings", methods=["PUT"])
@blp.arguments(SettingsIn)
@blp.response(200, SettingsOut, headers=ETAG_HEADER)
@problems(blp, 403, 412, 422, 428)
@documents_if_match(blp)
def put(data):
    """Replace the operator settings; every client's discovery answer follows."""
    actor = require_operator()
    require_if_match(current_settings()["etag"])
    default = current_app.config["LIVERY"].default_viewer_url
    set_setting(session(), SETTING_STANDARD_VIEWER_URL, data["standard_viewer_url"], actor=actor.name, default=default)
    session().commit()
    current = current_settings()
    return current, {"ETag": current["etag"]}
