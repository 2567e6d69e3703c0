"""Rendering portal pages: the layout's context, error pages, form errors and stale-edit detection.

Concurrency works as in the admin API: every edit form carries the version it was loaded at
(``version_fields``: the row's ``version`` and a snapshot of what the form showed). On save,
``stale_changes`` says whether someone changed the row meanwhile, and what; the view then shows
the conflict next to the user's input and never overwrites. The row's ``version`` column still
catches a race between two saves (StaleDataError), which answers the same conflict page.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from flask import render_template, request
from markupsafe import Markup
from sqlalchemy.orm.exc import StaleDataError

from app.db import session
from app.formats import canonical_json, storable_text_problem
from app.portal.web import bp
from app.problems import Problem, ValidationProblem

MAX_BASE_BYTES = 64 * 1024


class Crumb(NamedTuple):
    label: str
    url: str | None = None


def render_page(template: str, *, title: str, crumbs: list[Crumb] | tuple = (), status: int = 200, **context: Any):
    """A full page in the portal layout: ``title`` (also the h1), breadcrumbs, and the template's blocks."""
    return render_template(template, title=title, crumbs=list(crumbs), **context), status


def text_input(name: str, *, max_length: int, required: bool = False) -> str:
    """A text field of this POST, checked like the admin API's String fields (422 naming the field)."""
    value = request.form.get(name, "")
    problem = storable_text_problem(value)
    if problem is None and required and not value.strip():
        problem = "Must not be empty."
    if problem is None and len(value) > max_length:
        problem = f"Must be at most {max_length} characters."
    if problem:
        raise ValidationProblem({name: [problem]})
    return value


def load_form(schema: Any, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` loaded by an admin API marshmallow schema (the same validation); 422 by field."""
    import marshmallow as ma

    try:
        return schema.load(data)
    except ma.ValidationError as exc:
        raise ValidationProblem(exc.messages) from None


def form_errors(exc: ValidationProblem) -> dict[str, list[str]]:
    """A validation problem's messages by field name (for the error summary and each field)."""
    errors = exc.errors if isinstance(exc.errors, dict) else {"": [str(e) for e in exc.errors or []]}
    flat: dict[str, list[str]] = {}
    for name, messages in errors.items():
        if isinstance(messages, dict):  # nested schema errors: {draft: {field: [...]}}
            for inner, inner_messages in form_errors(ValidationProblem(messages)).items():
                flat.setdefault(inner, []).extend(inner_messages)
        else:
            flat.setdefault(name, []).extend(messages if isinstance(messages, list) else [str(messages)])
    return flat


@bp.app_template_global()
def version_fields(row: Any, shown: dict[str, Any]) -> Markup:
    """Hidden inputs: the row's version and what the form showed (to explain a conflict later)."""
    base = canonical_json(shown).decode()
    return Markup('<input type="hidden" name="version" value="{}"><input type="hidden" name="base" value="{}">').format(
        row.version, base
    )


def stale_changes(row: Any, now_shown: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """None when the form was loaded at ``row``'s current version; else what changed since.

    The answer maps each field someone else changed to ``{"loaded": ..., "now": ...}`` (empty
    when the form did not say what it showed: the conflict is then reported as a whole).
    """
    sent = request.form.get("version", "")
    if sent.isdigit() and int(sent) == row.version:
        return None
    raw = request.form.get("base", "")
    try:
        loaded = json.loads(raw) if len(raw) <= MAX_BASE_BYTES else {}
    except ValueError:
        loaded = {}
    if not isinstance(loaded, dict):
        loaded = {}
    return {
        name: {"loaded": loaded.get(name), "now": value}
        for name, value in now_shown.items()
        if name in loaded and loaded.get(name) != value
    }


@bp.app_template_filter("shown")
def shown_value(value: Any) -> str:
    """How a stored value reads on a page (None as an em dash)."""
    if value is None or value == "":
        return "—"
    return str(value)


# Portal errors answer as pages in the layout, not problem+json.
@bp.errorhandler(Problem)
def _problem_page(exc: Problem):
    session().rollback()
    body, status = render_page("portal/error.html", title=exc.title, status=exc.status, problem=exc)
    return body, status, exc.headers


@bp.errorhandler(StaleDataError)
def _stale_page(_exc: StaleDataError):
    session().rollback()
    problem = Problem("precondition_failed", "Someone saved a change at the same moment. Reload and try again.")
    return render_page("portal/error.html", title=problem.title, status=problem.status, problem=problem)
