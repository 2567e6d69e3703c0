"""End customers: the organisations whose users a partner licenses, directly or through a reseller."""

from __future__ import annotations

from app.api.admin import fields
from app.api.admin.auth import admin_blueprint
from app.api.admin.organisations import OrgIn, OrgOut, OrgQuery, register_org_routes
from app.licensing.models import Customer

blp = admin_blueprint("customers", "End customers; licensed users belong to one. Optional seat cap.")


class CustomerIn(OrgIn):
    reseller_id = fields.Integer(
        minimum=1,
        load_default=None,
        allow_none=True,
        metadata={"description": "The reseller it buys through; fixed once set."},
    )


class CustomerOut(OrgOut):
    reseller_id = fields.Integer(allow_none=True)


class CustomerQuery(OrgQuery):
    reseller_id = fields.Integer(minimum=1, metadata={"description": "Only this reseller's customers."})


register_org_routes(
    blp,
    Customer,
    path="customers",
    kind="customer",
    schemas={"in": CustomerIn, "out": CustomerOut, "query": CustomerQuery, "filters": ("reseller_id",)},
)
