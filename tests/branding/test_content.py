"""Brand content rules (pure): every rule gives a field error that says what to fix."""

from __future__ import annotations

import pytest

from app.branding.content import content_diff, content_problems, new_content


def test_defaults_are_valid():
    assert content_problems(new_content()) == {}


@pytest.mark.parametrize(
    ("fields", "field", "needle"),
    [
        ({"product_name": ""}, "product_name", "empty"),
        ({"product_name": "x" * 81}, "product_name", "at most 80"),
        ({"product_name": "Bad\x07Name"}, "product_name", "control"),
        ({"product_name": "Bidi\u202eName"}, "product_name", "control"),
        ({"product_name": " padded"}, "product_name", "spaces"),
        ({"support_url": "http://example.com"}, "support_url", "https"),
        ({"eula_url": "javascript:alert(1)"}, "eula_url", "https"),
        ({"splash_seconds": 0}, "splash_seconds", "from 1 to 15"),
        ({"splash_seconds": 600}, "splash_seconds", "from 1 to 15"),
        ({"splash_seconds": True}, "splash_seconds", "whole number"),
        ({"install_folder": "Acme"}, "install_folder", "Partner CRM"),
        ({"branding_level": "CI-A"}, "branding_level", "CI-B"),
        ({"viewer_name": "Viewer"}, "viewer_name", "CI-C"),
        ({"viewer_primary_color": "#123456"}, "viewer_primary_color", "CI-C"),
        ({"branding_level": "CI-C", "viewer_primary_color": "blue"}, "viewer_primary_color", "#1a2b3c"),
        ({"tray_icon": "not-a-digest"}, "tray_icon", "sha256"),
        ({"licensing_method": "honour"}, "licensing_method", "portal"),
        ({"upgrade_channel": "Stable!"}, "upgrade_channel", "lower-case"),
        ({"colour": "red"}, "colour", "Unknown"),
    ],
)
def test_rule_violations_name_the_field(fields, field, needle):
    problems = content_problems(new_content(**fields))
    assert field in problems
    assert any(needle in message for message in problems[field]), problems[field]


def test_ci_c_may_have_branded_viewer_settings():
    content = new_content(
        branding_level="CI-C",
        viewer_name="Acme Viewer",
        viewer_primary_color="#0b5fff",
        viewer_url="https://viewer.acme.example",
    )
    assert content_problems(content) == {}


def test_diff_lists_changed_fields_only():
    old = new_content()
    new = new_content(product_name="New")
    assert content_diff(old, new) == {"product_name": {"from": "CRM Integrator", "to": "New"}}
