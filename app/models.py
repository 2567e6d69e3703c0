"""Every table, imported in one place for Alembic and schema creation."""

from app.audit.models import AuditEvent
from app.billing.models import UsageReport, UsageReportRow, UsageSubmission, UsageSubmissionRow
from app.branding.models import AccessCode, Asset, Brand, BrandRevision
from app.db import Base
from app.freshness.models import ChangeEvent
from app.licensing.models import AllocationEvent, Customer, LicensedUser, LicensingSettings, Reseller, UsageFact
from app.licensing.webservice.models import LicensingLastGood, LicensingVerification
from app.onboarding.models import OnboardingStep, TestLaunch
from app.partners.models import ApiKey, OperatorSetting, Partner
from app.portal.models import PortalInvitation, PortalPartnerPolicy, PortalSession, PortalUser
from app.upgrades.models import (
    Approval,
    Channel,
    ControlFile,
    InstallReport,
    InstallReportMinute,
    PlanEvent,
    Release,
    RolloutPlan,
    UpgradePolicy,
)
from app.viewer.models import Integration
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessCode",
    "AllocationEvent",
    "ApiKey",
    "Approval",
    "Asset",
    "AuditEvent",
    "Base",
    "Brand",
    "BrandRevision",
    "ChangeEvent",
    "Channel",
    "ControlFile",
    "Customer",
    "InstallReport",
    "InstallReportMinute",
    "Integration",
    "LicensedUser",
    "LicensingLastGood",
    "LicensingSettings",
    "LicensingVerification",
    "OnboardingStep",
    "OperatorSetting",
    "Partner",
    "PlanEvent",
    "PortalInvitation",
    "PortalPartnerPolicy",
    "PortalSession",
    "PortalUser",
    "Release",
    "Reseller",
    "RolloutPlan",
    "TestLaunch",
    "UpgradePolicy",
    "UsageFact",
    "UsageReport",
    "UsageReportRow",
    "UsageSubmission",
    "UsageSubmissionRow",
    "WebhookDelivery",
    "WebhookEndpoint",
]
