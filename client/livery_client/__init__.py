"""Reference client for Livery: branding discovery, signed upgrade polling, verified downloads.

Start with :class:`LiveryClient`: ``launch()`` at every start (branding to show, even when the
service is down), ``check_upgrade(version, platform)`` periodically (a verified, signed decision),
``download(decision, folder)`` when it offers an installer, ``check_licence(user_id)`` before
letting a user work (a verified lease, kept for offline use). See README.md for an example.
"""

from livery_client.branding import LaunchResult, branding_changes, changed_fields
from livery_client.client import LiveryClient, default_cache_dir
from livery_client.codes import code_digest, format_code, normalise_code
from livery_client.errors import (
    AnswerMismatchError,
    AssetIntegrityError,
    BadRequest,
    CodeRevoked,
    InstallerIntegrityError,
    IntegrityError,
    LiveryError,
    NoCachedBranding,
    NoUpgradeAvailable,
    ProblemError,
    ReplayError,
    ServiceUnavailable,
    SignatureError,
    UnknownCode,
    VerificationError,
)
from livery_client.licence import Licence
from livery_client.polling import next_poll_delay, poll_forever
from livery_client.signing import canonical_bytes, verify_envelope
from livery_client.upgrade import UpgradeDecision, UpgradeTarget

__version__ = "0.1.0"
__all__ = [
    "AnswerMismatchError",
    "AssetIntegrityError",
    "BadRequest",
    "CodeRevoked",
    "InstallerIntegrityError",
    "IntegrityError",
    "LaunchResult",
    "Licence",
    "LiveryClient",
    "LiveryError",
    "NoCachedBranding",
    "NoUpgradeAvailable",
    "ProblemError",
    "ReplayError",
    "ServiceUnavailable",
    "SignatureError",
    "UnknownCode",
    "UpgradeDecision",
    "UpgradeTarget",
    "VerificationError",
    "branding_changes",
    "canonical_bytes",
    "changed_fields",
    "code_digest",
    "default_cache_dir",
    "format_code",
    "next_poll_delay",
    "normalise_code",
    "poll_forever",
    "verify_envelope",
]
