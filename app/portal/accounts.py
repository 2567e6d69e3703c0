"""Portal accounts: passwords (argon2id), TOTP with recovery codes, users and invitations.

No Flask here and no commits: the caller owns the unit of work. Emails are personal data: audit
snapshots and actor names name a user by id only.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.db import utcnow
from app.formats import storable_text_problem
from app.licensing.models import Reseller
from app.portal.models import PORTAL_ROLES, PortalInvitation, PortalPartnerPolicy, PortalUser
from app.problems import Conflict, ValidationProblem

MIN_PASSWORD = 12
MAX_PASSWORD = 256
RECOVERY_CODES = 10
TOTP_ISSUER = "Livery portal"

# argon2-cffi's defaults are RFC 9106's low-memory argon2id profile (t=3, m=64 MiB, p=4)
_hasher = PasswordHasher()
# verified against when the email is unknown, so that both failures cost the same time
_DUMMY_HASH = _hasher.hash("livery-portal-no-such-user")


def normalise_email(email: str) -> str:
    """How emails are compared and stored: trimmed and lower-cased."""
    return (email or "").strip().lower()


def _email_problem(email: str) -> str | None:
    if storable_text_problem(email) or any(unicodedata.category(ch)[0] == "C" for ch in email):
        return "Must be an email address like name@example.com."
    if not 3 <= len(email) <= 254 or email.count("@") != 1 or any(ch.isspace() for ch in email):
        return "Must be an email address like name@example.com."
    local, domain = email.split("@")
    if not local or "." not in domain:
        return "Must be an email address like name@example.com."
    return None


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, or None."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"Must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long."
    if "\x00" in password:
        return "Must not contain NUL characters."
    return None


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(user: PortalUser | None, password: str) -> bool:
    """Whether ``password`` is ``user``'s; an unknown user costs one hash too, and answers False."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def find_user(session: Session, email: str) -> PortalUser | None:
    """The user signing in with ``email``, if any."""
    if _email_problem(normalise_email(email)):
        return None  # never sent to the database: PostgreSQL refuses NUL in a string
    return session.scalar(select(PortalUser).where(PortalUser.email == normalise_email(email)))


def _check_scope(session: Session, role: str, partner_id: int | None, reseller_id: int | None) -> None:
    if role not in PORTAL_ROLES:
        raise ValidationProblem({"role": [f"Must be one of {', '.join(PORTAL_ROLES)}."]})
    if (role == "operator") != (partner_id is None):
        raise ValidationProblem({"partner_id": ["Operators have no partner; every other role needs one."]})
    if (role == "reseller") != (reseller_id is not None):
        raise ValidationProblem({"reseller_id": ["Reseller users need a reseller; other roles have none."]})
    if reseller_id is not None:
        reseller = session.get(Reseller, reseller_id)
        if reseller is None or reseller.partner_id != partner_id:
            raise ValidationProblem({"reseller_id": ["No reseller with this id at this partner."]})


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: str,
    actor: str,
    partner_id: int | None = None,
    reseller_id: int | None = None,
) -> PortalUser:
    """A new portal user with an argon2id password hash."""
    email = normalise_email(email)
    problems = {k: [v] for k, v in (("email", _email_problem(email)), ("password", password_problem(password))) if v}
    if problems:
        raise ValidationProblem(problems)
    _check_scope(session, role, partner_id, reseller_id)
    if find_user(session, email) is not None:
        raise Conflict("A portal user with this email already exists.", code="duplicate_email")
    with audited(session, actor, "portal_user.create") as change:
        change.row = user = PortalUser(
            email=email,
            password_hash=hash_password(password),
            role=role,
            partner_id=partner_id,
            reseller_id=reseller_id,
            recovery_codes=[],
            created_by=actor,
        )
        session.add(user)
    return user


def change_password(session: Session, user: PortalUser, new_password: str, *, actor: str) -> None:
    """Set a new password; the caller revokes the user's sessions (app/portal/sessions.py)."""
    problem = password_problem(new_password)
    if problem:
        raise ValidationProblem({"new_password": [problem]})
    with audited(session, actor, "portal_user.change_password", user):
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()


def totp_required(session: Session, user: PortalUser) -> bool:
    """Operators always need a second factor; partner users when their partner enforces it."""
    if user.role == "operator":
        return True
    policy = session.get(PortalPartnerPolicy, user.partner_id)
    return bool(policy and policy.require_totp)


def set_partner_policy(session: Session, partner_id: int, *, require_totp: bool, actor: str) -> PortalPartnerPolicy:
    """Whether every portal user of ``partner_id`` must use a second factor (from their next sign-in)."""
    policy = session.get(PortalPartnerPolicy, partner_id)
    if policy is None:
        with audited(session, actor, "portal_partner_policy.create") as change:
            change.row = policy = PortalPartnerPolicy(partner_id=partner_id, require_totp=require_totp)
            session.add(policy)
    elif policy.require_totp != require_totp:
        with audited(session, actor, "portal_partner_policy.update", policy):
            policy.require_totp = require_totp
    return policy


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def _code_digest(code: str) -> str:
    return hashlib.sha256(code.strip().replace("-", "").lower().encode()).hexdigest()


def _totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to (this one or its neighbours), if valid and not used yet."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code) and (last_step is None or candidate > last_step):
            return candidate
    return None


def _new_recovery_codes() -> list[str]:
    return [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]


def set_totp(session: Session, user: PortalUser, secret: str, *, actor: str, step: int | None = None) -> list[str]:
    """Turn on TOTP with ``secret`` (the CLI and the demo, which print it); returns new recovery codes."""
    codes = _new_recovery_codes()
    with audited(session, actor, "portal_user.enable_totp", user):
        user.totp_secret = secret
        user.totp_last_step = step
        user.recovery_codes = [_code_digest(c) for c in codes]
    return codes


def enable_totp(session: Session, user: PortalUser, secret: str, code: str, now: datetime, *, actor: str) -> list[str]:
    """Turn on TOTP once ``code`` proves the app has ``secret``; returns new recovery codes (shown once)."""
    step = _totp_step(secret, code, now, None)
    if step is None:
        raise ValidationProblem({"code": ["That code does not match; check the time on your device and retry."]})
    return set_totp(session, user, secret, actor=actor, step=step)


def check_second_factor(user: PortalUser, code: str, now: datetime) -> bool:
    """Accept a current TOTP code (once) or an unused recovery code (used up here)."""
    if not user.totp_secret:
        return False
    step = _totp_step(user.totp_secret, code, now, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return True
    digest = _code_digest(code)
    if digest in (user.recovery_codes or []):
        user.recovery_codes = [d for d in user.recovery_codes if d != digest]
        return True
    return False


def invitation_digest(token: str) -> str:
    """How an invitation token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def invite(
    session: Session,
    *,
    email: str,
    role: str,
    actor: str,
    now: datetime,
    valid_for: timedelta,
    partner_id: int | None = None,
    reseller_id: int | None = None,
) -> tuple[PortalInvitation, str]:
    """A single-use invitation; returns the row and its token (put in a link, shown once)."""
    email = normalise_email(email)
    problem = _email_problem(email)
    if problem:
        raise ValidationProblem({"email": [problem]})
    _check_scope(session, role, partner_id, reseller_id)
    token = secrets.token_urlsafe(32)
    with audited(session, actor, "portal_invitation.create") as change:
        change.row = invitation = PortalInvitation(
            digest=invitation_digest(token),
            email=email,
            role=role,
            partner_id=partner_id,
            reseller_id=reseller_id,
            expires_at=now + valid_for,
            created_by=actor,
        )
        session.add(invitation)
    return invitation, token


def open_invitation(session: Session, token: str, now: datetime) -> PortalInvitation | None:
    """The invitation behind ``token`` if it is unused and unexpired; else None."""
    row = session.scalar(select(PortalInvitation).where(PortalInvitation.digest == invitation_digest(token)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def accept_invitation(session: Session, invitation: PortalInvitation, password: str, now: datetime) -> PortalUser:
    """Create the invited user and use the invitation up."""
    actor = f"portal-invitation:{invitation.id}"
    user = create_user(
        session,
        email=invitation.email,
        password=password,
        role=invitation.role,
        actor=actor,
        partner_id=invitation.partner_id,
        reseller_id=invitation.reseller_id,
    )
    with audited(session, actor, "portal_invitation.accept", invitation):
        invitation.used_at = now
    return user
