"""The CRM viewer pages (/viewer, /viewer/{brand-slug}) and their JSON twin (/v1/viewer...).

Server-rendered Jinja with one stylesheet and a strict CSP (no script, no inline style: a branded
page's colours come in a small generated theme stylesheet); every page works without JavaScript.
Pages are read from the database per request and answered with an ETag of their bytes, so a
revalidation costs a render but no transfer, and a catalogue change shows at the next request.
"""

from __future__ import annotations

from flask import Flask


def init_viewer(app: Flask) -> None:
    """Register the viewer pages and the /v1/viewer JSON twin."""
    from app.api.viewer.pages import bp

    app.register_blueprint(bp)
