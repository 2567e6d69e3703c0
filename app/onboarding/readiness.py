"""Go-live readiness (pure): the checks Livery can make itself, each passing or saying why not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BrandFacts:
    """What readiness needs to know of one brand."""

    name: str
    published: bool
    licensing_method: str | None  # of the published revision (None when never published)
    channel: str
    channel_active: bool  # a valid control file is active on the channel
    upgrades_off: bool  # the channel is halted: upgrades explicitly off


@dataclass(frozen=True)
class ReadinessFacts:
    brands: tuple[BrandFacts, ...]
    web_service_verified: bool  # the partner's last web-service verification passed
    signing_keys: int
    test_launched: bool


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    why: str


def _brand_published(facts: ReadinessFacts) -> Check:
    published = [b.name for b in facts.brands if b.published]
    if published:
        return Check("brand_published", True, f"Published: {', '.join(published)}.")
    return Check("brand_published", False, "No brand is published; publish a brand's draft.")


def _licensing(facts: ReadinessFacts) -> Check:
    published = [b for b in facts.brands if b.published]
    if not published:
        return Check("licensing_configured", False, "No published brand announces a licensing method yet.")
    web = [b.name for b in published if b.licensing_method == "web_service"]
    if web and not facts.web_service_verified:
        return Check(
            "licensing_configured",
            False,
            f"{', '.join(web)} use the web-service method and its last verification did not pass; verify it.",
        )
    methods = sorted({b.licensing_method or "" for b in published})
    return Check("licensing_configured", True, f"Licensing method: {', '.join(methods)}.")


def _upgrades(facts: ReadinessFacts) -> Check:
    missing = [
        f"{b.name} (channel {b.channel})"
        for b in facts.brands
        if b.published and not (b.channel_active or b.upgrades_off)
    ]
    if not any(b.published for b in facts.brands):
        return Check("upgrade_channels", False, "No published brand: no upgrade channel to check.")
    if missing:
        return Check(
            "upgrade_channels",
            False,
            f"No active control file on: {', '.join(missing)}; upload one, or halt the channel to turn upgrades off.",
        )
    return Check("upgrade_channels", True, "Every published brand's channel has an active control file or is halted.")


def _signing(facts: ReadinessFacts) -> Check:
    if facts.signing_keys:
        return Check("signing_keys_published", True, f"{facts.signing_keys} public key(s) at /v1/keys.")
    return Check("signing_keys_published", False, "No signing key is published at /v1/keys.")


def _launched(facts: ReadinessFacts) -> Check:
    if facts.test_launched:
        return Check("test_code_launched", True, "A test code's client has fetched its discovery document.")
    return Check("test_code_launched", False, "No test code has launched yet; start the client with a test code.")


def readiness_checks(facts: ReadinessFacts) -> list[Check]:
    """Every go-live check, in the order they are usually done."""
    return [_brand_published(facts), _licensing(facts), _upgrades(facts), _signing(facts), _launched(facts)]


def failing(checks: list[Check]) -> list[Check]:
    """The checks that do not pass."""
    return [check for check in checks if not check.passed]
