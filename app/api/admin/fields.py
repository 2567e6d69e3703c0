"""The admin API's input types: what a database column can hold, checked before any query.

A value the database cannot store or compare (an integer beyond its range, a NUL character,
an unpaired surrogate) used to reach the driver and come back as a 500. Every admin schema
declares its integers and strings with :class:`Integer` and :class:`String` below, and every
``<int:...>`` / ``<name>`` route parameter goes through the converters installed by
:func:`install_url_converters`: out of range or unstorable is a 422 naming the field in a body
or query, and a 404 in a path, like any unknown id.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask
from werkzeug.routing import IntegerConverter, UnicodeConverter

from app.formats import MAX_ROW_ID, storable_text_problem

# PostgreSQL's INTEGER, the narrowest id column on any backend; a 64-bit column says so
INT_MIN, INT_MAX = -(2**31), MAX_ROW_ID
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class Integer(ma.fields.Integer):
    """An integer within the database's range (``INT_MIN``..``INT_MAX`` unless told otherwise).

    The one range rule of the admin API: a row id in a body or query is ``Integer(minimum=1)``.
    """

    def __init__(self, *, minimum: int = INT_MIN, maximum: int = INT_MAX, **kwargs: Any) -> None:
        validate = kwargs.pop("validate", None)
        validators = [validate] if callable(validate) else list(validate or ())
        # our range first: a stricter Range given by the field still applies and is documented
        super().__init__(validate=[ma.validate.Range(minimum, maximum), *validators], **kwargs)


class String(ma.fields.String):
    """Text the database can store: no NUL characters, no unpaired surrogates."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        error = storable_text_problem(text)
        if error:
            raise ma.ValidationError(error)
        return text


def decimal_at_most(limit: int) -> str:
    """A regular expression matching the decimal numbers 0..``limit`` (leading zeros allowed)."""
    digits = str(limit)
    alternatives = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - i - 1
            lower = "0" if digit == "1" else f"[0-{int(digit) - 1}]"
            alternatives.append(digits[:i] + lower + (rf"\d{{{rest}}}" if rest else ""))
    alternatives.append(digits)
    return "0*(?:" + "|".join(alternatives) + ")"


class IdConverter(IntegerConverter):
    """``<int:...>``: a non-negative integer the database can hold; beyond it no route matches (404).

    The range is in the regular expression, not only in ``max``: werkzeug checks a rule's methods
    before its converters, so a converter refusing the value would answer 405 to a PATCH.
    """

    regex = decimal_at_most(INT_MAX)

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)


class TextConverter(UnicodeConverter):
    """``<name>`` / ``<string:...>``: one path segment without NUL (404 otherwise)."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]")


def install_url_converters(app: Flask) -> None:
    """Make ``int``, ``string`` and default route parameters the range-checked ones above."""
    app.url_map.converters.update(int=IdConverter, string=TextConverter, default=TextConverter)
