"""Control-file documents for the pure upgrade tests: one valid file, and edits of it."""

from __future__ import annotations

DELETE = object()  # as a value in edited(): remove the field


def valid_doc() -> dict:
    return {
        "schema_version": 1,
        "channel": "stable",
        "serial": 12,
        "default_mode": "passive",
        "minimum_version": "5.0.0",
        "blocked_versions": ["5.2.1"],
        "notes": "5.3.0 to a fifth of installs",
        "releases": [
            {"version": "5.2.2", "rollout_percent": 100},
            {
                "version": "5.3.0",
                "rollout_percent": 20,
                "available_from": "2026-12-01T09:00:00Z",
                "critical": False,
                "platforms": ["windows-x64", "macos-arm64"],
            },
        ],
    }


def edited(**changes) -> dict:
    doc = valid_doc()
    for dotted, value in changes.items():
        target = doc
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return doc
