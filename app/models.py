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
from app.upgrades.models import Channel, ControlFile, Release
from app.viewer.models import Integration

__all__ = [
    "AccessCode",
    "AllocationEvent",
    "ApiKey",
    "Asset",
    "AuditEvent",
    "Base",
    "Brand",
    "BrandRevision",
    "ChangeEvent",
    "Channel",
    "ControlFile",
    "Customer",
    "Integration",
    "LicensedUser",
    "LicensingLastGood",
    "LicensingSettings",
    "LicensingVerification",
    "OnboardingStep",
    "OperatorSetting",
    "Partner",
    "PortalInvitation",
    "PortalPartnerPolicy",
    "PortalSession",
    "PortalUser",
    "Release",
    "Reseller",
    "TestLaunch",
    "UsageFact",
    "UsageReport",
    "UsageReportRow",
    "UsageSubmission",
    "UsageSubmissionRow",
]
