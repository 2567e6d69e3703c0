"""The web portal ``/portal/``: pages for partners, their resellers and operators (docs/portal.md).

Server-rendered Jinja, one stylesheet, htmx (vendored, pinned) only enhancing real
``<form method="post">``s, a strict CSP. Views call the same domain services as the admin API and
authorise through the same actor and scoping functions (app/api/admin/auth.py).

Adding a screen::

    # app/portal/views/releases.py
    from app.portal.web import bp, portal_view, portal_actor
    from app.portal.pages import render_page, form_errors, stale_fields

    @bp.route("/releases/<int:release_id>", methods=["GET", "POST"])
    @portal_view()                                  # signed in, operator / partner admin / viewer
    def release(release_id):
        \"\"\"One release.\"\"\"
        row = load_owned(Release, release_id, "release")   # 404 for another partner's
        if request.method == "POST":
            require_role("admin")                          # 403 for a viewer
            ...
        return render_page("portal/release.html", title=..., crumbs=[...], row=row)

then add the module to ``VIEW_MODULES`` below. CSRF is checked for every POST before the view
runs; templates put ``{{ csrf_field() }}`` in every form (the ``form`` macro does).
"""

from __future__ import annotations

import importlib

from flask import Flask, g, request

VIEW_MODULES = (
    "signin",
    "account",
    "home",
    "brands",
    "publish",
    "codes",
    "releases",
    "channels",
    "control_file",
    "rollout",
    "licensing",
    "reports",
    "team",
    "operator",
)


def init_portal(app: Flask) -> None:
    """Register the portal blueprint, its views, error pages and template helpers."""
    from app.portal import pages, web  # noqa: F401 - pages adds the error pages and template helpers

    app.extensions["livery.portal.clock"] = web.default_clock
    for name in VIEW_MODULES:
        importlib.import_module(f"app.portal.views.{name}")
    app.register_blueprint(web.bp)

    @app.context_processor
    def _portal_context():
        if request.blueprint != "portal":
            return {}
        return {"portal_user": web.current_user(), "portal_notice": g.get("portal_notice", "")}
