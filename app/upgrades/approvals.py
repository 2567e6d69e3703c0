"""Two-person activation: a partner option under which activating a control file or resuming a
halted channel needs a second person's approval of exactly what is activated or resumed.

A person is an API key (the audit log's actor). One person asks (``request_approval``), another
approves (``approve``); the change itself (upload or resume) then goes through only if an
approved approval carries the digest of what it is about to do, and uses it up. The digest
binds the approval to its content and context: for an activation, the channel, its active
serial and the file's exact bytes; for a resume, the channel's halt as it stands (when, why,
which serial). Any change — another byte in the file, another activation, a new halt — gives
another digest: the approval no longer matches and is void. The file asked for is kept in the
control-file store under its approval digest (``keep_document``), so an approver in the portal
reviews exactly those bytes. No commits here.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.services import audited
from app.db import utcnow
from app.formats import canonical_json, sha256_hex
from app.problems import Conflict, NotFound
from app.storage import ObjectNotFound, Stores
from app.upgrades.models import Approval, Channel, UpgradePolicy

ACTIONS = ("activate", "resume")
OPEN = ("pending", "approved")  # statuses of a request that can still be approved or used


class ApprovalRequired(Conflict):
    """409: two-person activation is on and no matching approval exists."""

    def __init__(self, action: str) -> None:
        if action == "plan":
            detail = (
                "Two-person activation is on: rollout plans, which activate control files by themselves, "
                "cannot run; raise the rollout with approved control files instead."
            )
        else:
            what = "this control file" if action == "activate" else "resuming this channel"
            detail = (
                f"Two-person activation is on: {what} needs a second person's approval of exactly this content "
                "(POST .../approvals, then another key POSTs .../approvals/{id}/approve)."
            )
        super().__init__(detail, code="approval_required")


class AlreadyAsked(Conflict):
    """409: a pending or approved request for exactly this (same channel, action and digest) exists."""

    def __init__(self, existing: Approval) -> None:
        what = "this control file" if existing.action == "activate" else "resuming this halt"
        if existing.status == "pending":
            state = "it is waiting for a second person's approval: approve or reject that one"
        else:
            state = f"{existing.approved_by} approved it: it can be used now"
        detail = (
            f"Approval of {what} was already asked for (approval {existing.id}, by {existing.requested_by} "
            f"at {existing.requested_at:%Y-%m-%d %H:%M} UTC); {state}."
        )
        super().__init__(detail, code="approval_already_asked", approval_id=existing.id)


class TwoPersonOff(Conflict):
    """409: the partner's two-person activation is off, so there is nothing to ask or approve."""

    def __init__(self) -> None:
        detail = (
            "Two-person activation is off: nothing needs a second person's approval. Activate the control "
            'file or resume the channel directly (PUT /upgrade-policy {"two_person": true} turns it on).'
        )
        super().__init__(detail, code="two_person_off")


def require_two_person(session: Session, partner_id: int) -> None:
    """TwoPersonOff unless the partner's two-person activation is on: approvals exist only under it."""
    if not two_person(session, partner_id):
        raise TwoPersonOff


def policy_of(session: Session, partner_id: int) -> UpgradePolicy | None:
    """The partner's upgrade policy row (None: defaults, two-person off)."""
    return session.get(UpgradePolicy, partner_id)


def two_person(session: Session, partner_id: int) -> bool:
    """Whether the partner needs a second person's approval for activations and resumes."""
    policy = policy_of(session, partner_id)
    return bool(policy and policy.two_person)


def set_two_person(session: Session, partner_id: int, enabled: bool, *, actor: str) -> UpgradePolicy:
    """Turn two-person activation on or off for the partner (audited)."""
    policy = policy_of(session, partner_id)
    with audited(session, actor, "upgrade_policy.set", policy) as change:
        if policy is None:
            change.row = policy = UpgradePolicy(partner_id=partner_id)
            session.add(policy)
        policy.two_person = enabled
    return policy


def activation_digest(channel: Channel, raw: bytes) -> str:
    """What an activation approval is bound to: the channel, its active serial and the file's bytes."""
    return sha256_hex(f"activate\n{channel.id}\n{channel.active_serial}\n".encode() + raw)


def resume_digest(channel: Channel) -> str:
    """What a resume approval is bound to: the channel's halt as it stands."""
    state = {
        "channel": channel.id,
        "halted": channel.halted,
        "halted_at": channel.halted_at.isoformat() if channel.halted_at else None,
        "halt_reason": channel.halt_reason,
        "active_serial": channel.active_serial,
    }
    return sha256_hex(b"resume\n" + canonical_json(state))


def _document_key(digest: str) -> str:
    return f"approvals/{digest}.json"


def keep_document(stores: Stores, digest: str, raw: bytes) -> None:
    """Store the control file an activation approval asks for, under its digest (before the commit)."""
    stores.control_files.put_bytes(_document_key(digest), raw, content_type="application/json")


def requested_document(stores: Stores, approval: Approval) -> bytes | None:
    """The control file an activation approval asked for, as kept; None when it was not kept."""
    try:
        return stores.control_files.read(_document_key(approval.content_sha256))
    except ObjectNotFound:
        return None


def current_digest(channel: Channel, approval: Approval, document: bytes | None) -> str:
    """The digest of what ``approval`` would be about now (the kept file against the channel as it stands)."""
    if approval.action == "resume":
        return resume_digest(channel)
    return activation_digest(channel, document) if document is not None else ""


def open_request(session: Session, channel: Channel, action: str, digest: str) -> Approval | None:
    """The pending or approved request of ``channel`` for ``action`` on exactly ``digest``, if any."""
    return session.scalar(
        select(Approval)
        .where(
            Approval.channel_id == channel.id,
            Approval.action == action,
            Approval.content_sha256 == digest,
            Approval.status.in_(OPEN),
        )
        .order_by(Approval.id)
        .limit(1)
    )


def request_approval(session: Session, channel: Channel, action: str, digest: str, *, actor: str) -> Approval:
    """Ask for a second person's approval of ``digest`` (audited); AlreadyAsked when one is open for it,
    TwoPersonOff when the partner's two-person activation is off (nothing would wait for it).

    One open request per channel, action and digest: a double click or two people asking at once
    would otherwise leave two requests of one halt (or one file) for approvers to tell apart. A
    request for an earlier halt or another file has another digest and does not count (it is void).
    """
    # Take the channel row's write lock before looking: a concurrent request of the same channel
    # waits here until this one commits, then sees it (PostgreSQL row lock; SQLite's write lock).
    # Nothing changes (not even updated_at), so the channel's version (its ETag) stays as it is.
    require_two_person(session, channel.partner_id)
    channels = Channel.__table__
    session.execute(update(channels).where(channels.c.id == channel.id).values(updated_at=channels.c.updated_at))
    existing = open_request(session, channel, action, digest)
    if existing is not None:
        raise AlreadyAsked(existing)
    with audited(session, actor, "approval.request") as change:
        change.row = approval = Approval(
            partner_id=channel.partner_id,
            channel_id=channel.id,
            action=action,
            content_sha256=digest,
            status="pending",
            requested_by=actor,
            requested_at=utcnow(),
        )
        session.add(approval)
    return approval


def approve(session: Session, approval: Approval, current_digest: str, *, actor: str) -> Approval:
    """The second person's approval (audited); refused for the requester, or when the content changed.

    ``current_digest`` is computed from what the approver reviewed (the file they send, or the
    channel's halt as it stands now): a mismatch voids the approval. TwoPersonOff once the
    partner turned two-person activation off (the request then needs no answer).
    """
    require_two_person(session, approval.partner_id)
    if approval.status != "pending":
        raise Conflict(f"The approval is {approval.status}; ask for a new one.")
    if actor == approval.requested_by:
        raise Conflict("A second person must approve: use another key than the one that asked.")
    with audited(
        session, actor, "approval.approve" if current_digest == approval.content_sha256 else "approval.void", approval
    ):
        if current_digest != approval.content_sha256:
            approval.status = "void"
        else:
            approval.status, approval.approved_by, approval.approved_at = "approved", actor, utcnow()
    if approval.status == "void":
        raise Conflict("What was asked for has changed since (another activation, halt or file): the approval is void.")
    return approval


def reject(session: Session, approval: Approval, *, actor: str) -> Approval:
    """Turn a pending request down, or withdraw one's own (audited); nothing can use it after."""
    if approval.status != "pending":
        raise Conflict(f"The approval is {approval.status}; only a pending one can be rejected.")
    with audited(session, actor, "approval.reject", approval):
        approval.status, approval.approved_by, approval.approved_at = "rejected", actor, utcnow()
    return approval


def use_approval(session: Session, channel: Channel, action: str, digest: str, *, actor: str) -> Approval:
    """Use up the approved approval of ``digest``; ApprovalRequired when there is none."""
    approval = session.scalar(
        select(Approval).where(
            Approval.channel_id == channel.id,
            Approval.action == action,
            Approval.content_sha256 == digest,
            Approval.status == "approved",
        )
    )
    if approval is None:
        raise ApprovalRequired(action)
    with audited(session, actor, "approval.use", approval):
        approval.status = "used"
    return approval


def find_approval(session: Session, channel: Channel, approval_id: int) -> Approval:
    """The channel's approval ``approval_id``; NotFound otherwise."""
    approval = session.get(Approval, approval_id)
    if approval is None or approval.channel_id != channel.id:
        raise NotFound(f"Channel {channel.name} has no approval {approval_id}.")
    return approval


def approvals_query(channel: Channel):
    """The channel's approvals (admin list)."""
    return select(Approval).where(Approval.channel_id == channel.id)
