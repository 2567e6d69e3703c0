"""SCIM discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas."""

from __future__ import annotations

from flask import current_app

from app.api.scim import bp, scim_response
from app.api.scim.protocol import EXTENSION, LIST_RESPONSE, USER_SCHEMA

_CORE = "urn:ietf:params:scim:schemas:core:2.0:"


def _attribute(name: str, kind: str = "string", **extra) -> dict:
    return {
        "name": name,
        "type": kind,
        "multiValued": False,
        "required": extra.pop("required", False),
        "mutability": extra.pop("mutability", "readWrite"),
        "returned": "default",
        "uniqueness": extra.pop("uniqueness", "none"),
        "caseExact": False,
        **extra,
    }


SCHEMAS = [
    {
        "schemas": [_CORE + "Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A licensed user: userName is the id the partner's client checks.",
        "attributes": [
            _attribute("userName", required=True, uniqueness="server"),
            _attribute("externalId"),
            _attribute("active", "boolean"),
        ],
    },
    {
        "schemas": [_CORE + "Schema"],
        "id": EXTENSION,
        "name": "LiveryLicensing",
        "description": "Where the user is licensed: its end customer and licence type.",
        "attributes": [_attribute("customerId"), _attribute("licenceType")],
    },
]


def _with_meta(resource: dict, kind: str, name: str) -> dict:
    base = current_app.config["LIVERY"].public_base_url.rstrip("/")
    return {**resource, "meta": {"resourceType": kind, "location": f"{base}/scim/v2/{name}"}}


@bp.get("/ServiceProviderConfig")
def service_provider_config():
    """What this SCIM service supports."""
    return scim_response(
        _with_meta(
            {
                "schemas": [_CORE + "ServiceProviderConfig"],
                "documentationUri": "https://livery.example/docs/licensing#scim",
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": 200},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": True},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "Partner API key",
                        "description": "Authorization: Bearer <a partner admin key>",
                        "primary": True,
                    }
                ],
            },
            "ServiceProviderConfig",
            "ServiceProviderConfig",
        )
    )


@bp.get("/ResourceTypes")
def resource_types():
    """The one resource type: User, with Livery's licensing extension."""
    user = _with_meta(
        {
            "schemas": [_CORE + "ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": EXTENSION, "required": False}],
        },
        "ResourceType",
        "ResourceTypes/User",
    )
    return scim_response({"schemas": [LIST_RESPONSE], "totalResults": 1, "startIndex": 1, "itemsPerPage": 1,
                          "Resources": [user]})  # fmt: skip


@bp.get("/Schemas")
def schemas():
    """The User schema and the licensing extension."""
    resources = [_with_meta(s, "Schema", f"Schemas/{s['id']}") for s in SCHEMAS]
    return scim_response({"schemas": [LIST_RESPONSE], "totalResults": len(resources), "startIndex": 1,
                          "itemsPerPage": len(resources), "Resources": resources})  # fmt: skip
