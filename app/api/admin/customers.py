"""End customers: the organisations whose users a partner licenses, directly or through a reseller."""

from __future__ import annotations

import marshmallow as ma

from app.api.admin.auth import admin_blueprint
from app.api.admin.ids import ID_RANGE
from app.api.admin.organisations import OrgIn, OrgOut, OrgQuery, register_org_routes
from app.licensing.models import Customer

blp = admin_blueprint("customers", "End customers; licensed users belong to one. Optional seat cap.")


class CustomerIn(OrgIn):
    reseller_id = ma.fields.Integer(
        validate=ID_RANGE,
        load_default=None,
        allow_none=True,
        metadata={"description": "The reseller it buys through; fixed once set."},
    )


class CustomerOut(OrgOut):
    reseller_id = ma.fields.Integer(allow_none=True)


class CustomerQuery(OrgQuery):
    reseller_id = ma.fields.Integer(validate=ID_RANGE, metadata={"description": "Only this reseller's customers."})


register_org_routes(
    blp,
    Customer,
    path="customers",
    kind="customer",
    schemas={"in": CustomerIn, "out": CustomerOut, "query": CustomerQuery, "filters": ("reseller_id",)},
)
