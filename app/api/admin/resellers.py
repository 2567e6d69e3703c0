"""Resellers: who sells a partner's product to end customers (portal licensing)."""

from __future__ import annotations

from app.api.admin.auth import admin_blueprint
from app.api.admin.organisations import OrgIn, OrgOut, OrgQuery, register_org_routes
from app.licensing.models import Reseller

blp = admin_blueprint("resellers", "A partner's resellers; their end customers' users count against their seat cap.")


class ResellerOut(OrgOut):
    """A reseller."""


register_org_routes(
    blp, Reseller, path="resellers", kind="reseller", schemas={"in": OrgIn, "out": ResellerOut, "query": OrgQuery}
)
