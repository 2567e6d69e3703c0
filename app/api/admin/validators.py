"""marshmallow validators for the admin schemas, each the one rule of app/formats.py."""

from __future__ import annotations

import marshmallow as ma

from app.formats import CHANNEL_NAME_HINT, MAX_INSTALL_ID, https_url_problem, is_channel_name, is_install_id
from app.upgrades.versions import InvalidVersion, parse_version


def https_url(value: str) -> None:
    """Refuse anything but a public https URL (app.formats.https_url_problem)."""
    if message := https_url_problem(value):
        raise ma.ValidationError(message)


def channel_name(value: str) -> None:
    """Refuse anything but an upgrade channel name."""
    if not is_channel_name(value):
        raise ma.ValidationError(f"Must be a channel name: {CHANNEL_NAME_HINT}.")


def install_id(value: str) -> None:
    """Refuse anything an upgrade poll would refuse as an install id."""
    if not is_install_id(value):
        raise ma.ValidationError(f"Must be 1 to {MAX_INSTALL_ID} visible ASCII characters.")


def version(value: str) -> None:
    """Refuse anything that is not a version (app.upgrades.versions)."""
    try:
        parse_version(value)
    except InvalidVersion as exc:
        raise ma.ValidationError(str(exc)) from None
