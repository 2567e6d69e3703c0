"""A partner's way to go-live: its onboarding checklist (operators edit, the partner reads), the
computed readiness checks and the scheduled go-live time. Going live itself is PATCH /partners/{id}."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app

from app.api.admin import fields
from app.api.admin.auth import admin_blueprint, load_owned_partner, require_operator
from app.api.admin.concurrency import ETAG_HEADER, documents_if_match, etag_for, etag_of, require_if_match
from app.api.admin.spec import problems
from app.db import session
from app.onboarding.checklist import OWNERS, STEP_KEYS, STEP_STATUSES
from app.onboarding.models import OnboardingStep
from app.onboarding.readiness import failing
from app.onboarding.services import checklist, readiness, schedule_go_live, update_step
from app.problems import NotFound

blp = admin_blueprint("onboarding", "Onboarding to go-live: checklist, readiness, scheduled go-live.")


class StepOut(ma.Schema):
    key = fields.String(metadata={"description": f"One of {', '.join(STEP_KEYS)}."})
    title = fields.String()
    status = fields.String(metadata={"description": f"One of {', '.join(STEP_STATUSES)}."})
    owner = fields.String(metadata={"description": "vendor | partner"})
    due_on = ma.fields.Date(allow_none=True)
    done_on = ma.fields.Date(allow_none=True)
    note = fields.String()
    updated_at = ma.fields.DateTime(allow_none=True)
    etag = fields.String(metadata={"description": "Send as If-Match to change this step."})


class OnboardingOut(ma.Schema):
    partner_id = fields.Integer()
    status = fields.String()
    go_live_at = ma.fields.DateTime(allow_none=True)
    etag = fields.String(metadata={"description": "The partner's ETag: send as If-Match to (re)schedule."})
    steps = ma.fields.List(ma.fields.Nested(StepOut))


class OnboardingPatch(ma.Schema):
    go_live_at = ma.fields.AwareDateTime(
        required=True,
        allow_none=True,
        metadata={"description": "When the scheduler makes the partner live (if ready then); null cancels."},
    )


class StepPatch(ma.Schema):
    status = fields.String(validate=ma.validate.OneOf(STEP_STATUSES))
    owner = fields.String(validate=ma.validate.OneOf(OWNERS))
    due_on = ma.fields.Date(allow_none=True)
    done_on = ma.fields.Date(allow_none=True)
    note = fields.String(validate=ma.validate.Length(max=2000))


class ReadinessCheckOut(ma.Schema):
    name = fields.String()
    passed = ma.fields.Boolean()
    why = fields.String()


class PartnerReadinessOut(ma.Schema):
    partner_id = fields.Integer()
    ready = ma.fields.Boolean()
    checks = ma.fields.List(ma.fields.Nested(ReadinessCheckOut))


def _step_etag(partner_id: int, step: dict, row: OnboardingStep | None) -> str:
    return etag_of(row) if row is not None else etag_for("onboarding_step", f"{partner_id}:{step['key']}", 0)


def _view(partner) -> dict:
    rows = {row.key: row for row in session().query(OnboardingStep).filter_by(partner_id=partner.id)}
    steps = [
        {**step, "etag": _step_etag(partner.id, step, rows.get(step["key"]))} for step in checklist(session(), partner)
    ]
    return {
        "partner_id": partner.id,
        "status": partner.status,
        "go_live_at": partner.go_live_at,
        "etag": etag_of(partner),
        "steps": steps,
    }


@blp.route("/partners/<int:partner_id>/onboarding", methods=["GET"])
@blp.response(200, OnboardingOut, headers=ETAG_HEADER)
@problems(blp, 404)
def get(partner_id):
    """Read a partner's onboarding checklist and scheduled go-live (a partner key may read its own)."""
    partner = load_owned_partner(partner_id)
    return _view(partner), {"ETag": etag_of(partner)}


@blp.route("/partners/<int:partner_id>/onboarding", methods=["PATCH"])
@blp.arguments(OnboardingPatch)
@blp.response(200, OnboardingOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 409, 412, 422, 428)
@documents_if_match(blp)
def schedule(data, partner_id):
    """Schedule (or cancel) a partner's go-live; `flask onboarding run-scheduled` makes it live then, if ready."""
    partner = load_owned_partner(partner_id)
    actor = require_operator()
    require_if_match(etag_of(partner))
    schedule_go_live(session(), partner, data["go_live_at"], actor=actor.name)
    session().commit()
    return _view(partner), {"ETag": etag_of(partner)}


@blp.route("/partners/<int:partner_id>/onboarding/steps/<step_key>", methods=["PATCH"])
@blp.arguments(StepPatch)
@blp.response(200, OnboardingOut, headers=ETAG_HEADER)
@problems(blp, 403, 404, 412, 422, 428)
@documents_if_match(blp)
def update(data, partner_id, step_key):
    """Change one checklist step (status, owner, dates, note); If-Match is the step's etag."""
    partner = load_owned_partner(partner_id)
    actor = require_operator()
    current = next((s for s in _view(partner)["steps"] if s["key"] == step_key), None)
    if current is None:
        raise NotFound(f"No onboarding step {step_key!r}; steps are: {', '.join(STEP_KEYS)}.")
    require_if_match(current["etag"])
    update_step(session(), partner, step_key, data, actor=actor.name)
    session().commit()
    return _view(partner), {"ETag": etag_of(partner)}


@blp.route("/partners/<int:partner_id>/readiness", methods=["GET"])
@blp.response(200, PartnerReadinessOut)
@problems(blp, 404)
def get_readiness(partner_id):
    """The go-live checks Livery computes for a partner, each passing or saying why not."""
    partner = load_owned_partner(partner_id)
    checks = readiness(session(), partner, current_app.extensions["livery.upgrades"].published_key_count)
    return {"partner_id": partner.id, "ready": not failing(checks), "checks": checks}
