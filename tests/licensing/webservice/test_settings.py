"""The outbound and web-service settings: read from LIVERY_* variables, refused when unsafe."""

from __future__ import annotations

import pytest

from app.config import ConfigError, Settings


def test_defaults_and_environment():
    assert Settings().egress_allow_private is False
    settings = Settings.from_env(
        {
            "LIVERY_EGRESS_ALLOW_PRIVATE": "true",
            "LIVERY_LICENSING_CONNECT_TIMEOUT": "0.5",
            "LIVERY_LICENSING_TIMEOUT": "1.5",
            "LIVERY_LICENSING_CACHE_ENTRIES": "10",
            "LIVERY_LICENSING_BREAKER_FAILURES": "3",
            "LIVERY_LICENSING_BREAKER_COOLDOWN": "10",
        }
    )
    assert settings.egress_allow_private is True
    assert (settings.licensing_connect_timeout, settings.licensing_timeout) == (0.5, 1.5)
    assert (settings.licensing_cache_entries, settings.licensing_breaker_failures) == (10, 3)
    assert settings.licensing_breaker_cooldown == 10


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVERY_EGRESS_ALLOW_PRIVATE", "perhaps"),
        ("LIVERY_LICENSING_CONNECT_TIMEOUT", "3"),  # longer than the total
        ("LIVERY_LICENSING_TIMEOUT", "25"),  # near the worker timeout
        ("LIVERY_LICENSING_TIMEOUT", "0"),
        ("LIVERY_LICENSING_CACHE_ENTRIES", "0"),
        ("LIVERY_LICENSING_BREAKER_FAILURES", "0"),
        ("LIVERY_LICENSING_BREAKER_COOLDOWN", "-1"),
    ],
)
def test_unsafe_values_stop_the_start(name, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert name.removeprefix("LIVERY_").split("_")[0] in str(caught.value)
