"""The client's exceptions: one hierarchy rooted at :class:`LiveryError`.

Callers branch on the class, never on message text. The CLI maps each branch to one exit code.
"""

from __future__ import annotations


class LiveryError(Exception):
    """Anything the Livery client refuses or cannot do."""


class ProblemError(LiveryError):
    """The service answered with an error status (usually application/problem+json)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class UnknownCode(ProblemError):
    """404: the access code is malformed or unknown; the build's code is wrong."""


class CodeRevoked(ProblemError):
    """410: the access code was revoked or expired, or the partner is suspended."""


class BadRequest(ProblemError):
    """400: the request itself is wrong (e.g. an unparsable version or unknown platform)."""


class ServiceUnavailable(ProblemError):
    """The service is unreachable, failing (5xx), rate limiting (429) or answered garbage."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class NoCachedBranding(ServiceUnavailable):
    """The service is unavailable and no branding was ever stored in the cache."""


class VerificationError(LiveryError):
    """An upgrade answer cannot be trusted."""


class SignatureError(VerificationError):
    """No pinned key matches the answer's key id, or its signature does not verify."""


class ReplayError(VerificationError):
    """The answer's control-file serial is lower than one already seen (rollback/replay)."""


class AnswerMismatchError(VerificationError):
    """A correctly signed answer about another question (other version, platform or code)."""


class IntegrityError(LiveryError):
    """Downloaded bytes do not match the sha256 or size the service announced."""


class AssetIntegrityError(IntegrityError):
    """A branding asset does not match the discovery document."""


class InstallerIntegrityError(IntegrityError):
    """An installer does not match the signed upgrade answer."""


class NoUpgradeAvailable(LiveryError):
    """``download`` was asked for a decision that has no target."""
