"""A third-party adapter as a plug-in distribution would ship it (loaded through an entry point)."""

from __future__ import annotations

import marshmallow as ma

from app.licensing.methods import Verdict


class Settings(ma.Schema):
    licence_type = ma.fields.String(required=True)


class EveryoneAdapter:
    name = "everyone"
    settings_schema = Settings

    def __init__(self, config) -> None:
        self.config = config

    def check(self, request, settings):
        return Verdict("valid", settings["licence_type"], {"kind": "adapter", "adapter": self.name})
