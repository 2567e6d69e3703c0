"""The admin surface ``/admin/v1``: partners and operators manage brands, assets, codes and keys.

One module per resource, each with its marshmallow In/Patch/Out/Query schemas and routes on a
blueprint made by :func:`app.api.admin.auth.admin_blueprint`. A new resource module follows the
same recipe::

    blp = admin_blueprint("releases", "Installers of a partner's product.")  # name = OpenAPI tag

    @blp.route("/releases/<int:release_id>", methods=["PATCH"])
    @blp.arguments(ReleasePatch)
    @blp.response(200, ReleaseOut)
    @problems(blp, 403, 404, 412, 422, 428)
    @documents_if_match(blp)
    def update_release(changes, release_id):
        \"\"\"Change a release (the docstring is the OpenAPI summary).\"\"\"
        release = load_owned(Release, release_id, "release")   # 404 for another partner's
        actor = require_role("admin")                           # 403 for a viewer key
        require_if_match(etag_of(release))                      # 428 / 412
        ...call the domain service with actor=actor.name...
        session().commit()
        return release, {"ETag": etag_of(release)}

- auth.py: ``current_actor``, ``require_role``, ``require_operator``, ``load_owned`` (404 across
  partners), ``acting_partner`` (creates), ``partner_filter`` (lists).
- concurrency.py: ``etag_of(row)`` (from the row's version column), ``require_if_match``,
  ``documents_if_match``; a lost update surfaces as StaleDataError from the ``version`` column
  and is answered 412 by the handler registered here. Out schemas also carry the ETag as ``etag``.
- Domain services write through ``app.audit.services.audited`` (audit event and change
  announcement in one step); a new model registers itself in its models.py.
- fields.py: ``fields.Integer`` / ``fields.String`` for every schema field (database range; no
  NUL or unpaired surrogate: 422 naming the field) and the ``<int:...>`` / ``<name>`` route
  converters (beyond the range: 404). JSON bodies are parsed by app/json_input.py (depth and
  number-length caps: 400 ``malformed_json``).
- pagination.py: ``PageQuery`` (subclass it for filters), ``page_of(ItemOut)``, ``paginate``.
- spec.py: ``problems(blp, ...)`` documents error responses (401 always); ``WithExtra(row, ...)``
  adds values shown once (a new key or code) to a row for its Out schema; the explorer at /docs.

Every request is authenticated before the route runs (failed attempts are throttled per address,
app/throttling.py); bodies are capped at 1 MiB unless the route reads a bigger one through
``auth.body_limit``/``auth.read_body``; every answer is ``Cache-Control: no-store``. Errors
are raised as app.problems.Problem subclasses (domain services already do) and leave as
problem+json through app/problems.py.

Then add the module to ``RESOURCE_MODULES`` below.
"""

from __future__ import annotations

import importlib

from flask import Flask

RESOURCE_MODULES = (
    "partners",
    "api_keys",
    "brands",
    "revisions",
    "assets",
    "access_codes",
    "audit",
    "settings",
    "releases",
    "channels",
    "channel_health",
    "webhooks",
    "rollout_plans",
    "approvals",
    "onboarding",
    "integrations",
    "resellers",
    "customers",
    "licensed_users",
    "licensing",
    "licensing_verify",
    "reports",
    "usage_submissions",
)


def init_admin(app: Flask) -> None:
    """Register the admin blueprints, the OpenAPI document (/openapi.json) and the explorer (/docs)."""
    from app.api.admin.concurrency import register_concurrency_errors
    from app.api.admin.spec import AdminApi, configure_openapi, explorer_assets_blueprint

    configure_openapi(app)
    api = AdminApi(
        app,
        spec_kwargs={
            "security": [{"bearerAuth": []}],
            "info": {"description": "Manage partners, brands, assets, access codes and keys. See docs/admin-api.md."},
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An operator or partner API key."}
    )
    for name in RESOURCE_MODULES:
        module = importlib.import_module(f"app.api.admin.{name}")
        api.register_blueprint(module.blp)
    app.register_blueprint(explorer_assets_blueprint())
    register_concurrency_errors(app)
    app.extensions["livery.admin_api"] = api
