"""The one way Livery parses JSON it receives: the standard parser with depth and number caps.

``json.loads`` alone lets a client spend the server's stack or CPU: a document nested 10,000
deep raises RecursionError (a 500), and an integer literal of thousands of digits is slow to
convert and then too long for Python's int/str conversion limit. Every JSON input (admin request
bodies, control files, pagination cursors) goes through :func:`load_json`, which refuses both
with :class:`JSONInputError`, a ValueError whose message says what to fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64  # arrays and objects inside each other; Livery's deepest document needs 4
MAX_NUMBER_CHARS = 64  # characters of one number literal; a 64-bit integer needs 20


class JSONInputError(ValueError):
    """The input is not JSON Livery accepts (malformed, too deep, a number too long)."""


def _capped(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(literal: str) -> Any:
        if len(literal) > MAX_NUMBER_CHARS:
            raise JSONInputError(f"A number literal is longer than {MAX_NUMBER_CHARS} characters.")
        return convert(literal)

    return parse


def _depth_exceeded(document: Any) -> bool:
    # iterative: a recursive walk would fail on exactly the documents it must refuse
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    return False


def load_json(raw: str | bytes, *, parse_float: Callable[[str], Any] = float, **options: Any) -> Any:
    """The document in ``raw`` (``json.loads`` options allowed); JSONInputError when refused."""
    try:
        document = json.loads(raw, parse_int=_capped(int), parse_float=_capped(parse_float), **options)
    except RecursionError:
        raise JSONInputError(f"The document is nested more than {MAX_DEPTH} levels deep.") from None
    except JSONInputError:
        raise
    except json.JSONDecodeError as exc:
        raise JSONInputError(f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    except (ValueError, TypeError) as exc:  # undecodable bytes, hooks refusing a value
        raise JSONInputError(f"Malformed JSON: {exc}.") from None
    if _depth_exceeded(document):
        raise JSONInputError(f"The document is nested more than {MAX_DEPTH} levels deep.")
    return document
