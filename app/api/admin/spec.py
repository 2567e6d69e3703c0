"""The OpenAPI side of the admin API: the flask-smorest ``Api``, problem responses, the explorer.

Errors are documented as RFC 9457 problems (``application/problem+json``) and produced by the
one handler in app/problems.py; flask-smorest's own error handler is therefore not installed.
The explorer (Swagger UI) is served from the pinned ``swagger-ui-bundle`` package, so ``/docs``
works without reaching any CDN.
"""

from __future__ import annotations

import http
from collections.abc import Callable

import marshmallow as ma
from flask import Blueprint, Flask, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from app.problems import PROBLEM_MEDIA_TYPE

EXPLORER_ASSETS_URL = "/docs/assets/"


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem document."""

    type = ma.fields.String(metadata={"description": "URI naming the kind of problem; ends in `code`."})
    title = ma.fields.String(metadata={"description": "Short human summary of the kind of problem."})
    status = ma.fields.Integer(metadata={"description": "The HTTP status code."})
    code = ma.fields.String(metadata={"description": "Stable machine-readable code to branch on."})
    detail = ma.fields.String(metadata={"description": "What went wrong here and what to do about it."})
    errors = ma.fields.Raw(metadata={"description": "For validation problems: messages by field name."})


class AdminApi(Api):
    """flask-smorest's Api with problem+json error documentation and no error handler of its own."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        # app/problems.py already turns every HTTPException (webargs' 422 included) into a problem
        pass

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error, as a problem document", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def problems(blp, *statuses: int) -> Callable:
    """Decorator documenting the problem responses a route can give (401 is always added, and 503:
    the database or object store is unreachable, retry after ``Retry-After`` seconds)."""

    def decorator(func: Callable) -> Callable:
        for status in sorted({401, 503, *statuses}, reverse=True):
            func = blp.alt_response(status, response=http.HTTPStatus(status).name)(func)
        return func

    return decorator


def explorer_assets_blueprint() -> Blueprint:
    """Serves Swagger UI's files from the installed package at ``/docs/assets/``."""
    from swagger_ui_bundle import swagger_ui_path

    bp = Blueprint("admin_explorer_assets", __name__)

    @bp.get(EXPLORER_ASSETS_URL + "<path:filename>")
    def explorer_asset(filename: str):
        """A static file of the API explorer."""
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    return bp


def configure_openapi(app: Flask) -> None:
    """flask-smorest settings: spec at /openapi.json, explorer at /docs."""
    app.config.update(
        API_TITLE="Livery admin API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=EXPLORER_ASSETS_URL,
        OPENAPI_SWAGGER_UI_CONFIG={"persistAuthorization": True, "displayRequestDuration": True},
    )


class WithExtra:
    """A row plus values only this response shows (a key or code shown once, ``created``).

    Out schemas read attributes, so this lets them serialise both without dumping twice.
    """

    def __init__(self, row: object, **extra: object) -> None:
        self._row = self.__wrapped__ = row  # __wrapped__: what etag_of reads through
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> object:
        return getattr(self._row, name)
