"""The public surface ``/v1``: what installed clients call. The hot path; see answers.py and cache.py.

``init_public`` is called by the application factory: it registers the routes and puts the WSGI
fast path (fast.py) in front of the app. Module layout, with no import cycle (a test checks it):
answers.py, licence_answers.py and report_answers.py (Flask-free cores) <- cache.py, upgrade_cache.py
<- blueprint.py <- route modules (discovery, upgrade, assets, licences, reports, manifests), and
fast.py, which imports no route module.
"""

from __future__ import annotations

from flask import Flask


def init_public(app: Flask) -> None:
    """Register the /v1 routes and install the fast path (needs the public and upgrade answers)."""
    from app.api.public import (  # noqa: F401  (routes register on bp)
        assets,
        discovery,
        licences,
        manifests,
        reports,
        upgrade,
    )
    from app.api.public.answers import discovery_cache_control
    from app.api.public.blueprint import bp
    from app.api.public.fast import FastPublicPath

    settings = app.config["LIVERY"]
    app.config["LIVERY_DISCOVERY_CACHE_CONTROL"] = discovery_cache_control(
        settings.discovery_max_age, settings.discovery_shared_max_age
    )
    app.register_blueprint(bp)
    app.wsgi_app = FastPublicPath(app, app.wsgi_app)
