"""SCIM 2.0 (RFC 7643/7644) as Livery speaks it, without Flask: resources, filters, PATCH operations.

A SCIM User is a licensed user: ``userName`` is the user id (matched like every licence check),
``externalId`` the identity provider's id, ``active`` the status; Livery's extension carries the
customer and licence type. Only what identity providers send is supported: the filters
``userName eq "..."`` and ``externalId eq "..."``, and PATCH ``replace``/``add`` of ``active``,
``userName``, ``externalId`` and the extension's attributes.
"""

from __future__ import annotations

import re
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
EXTENSION = "urn:livery:params:scim:schemas:extension:licensing:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
MEDIA_TYPE = "application/scim+json"
_FILTER_RE = re.compile(r'^\s*(userName|externalId)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


class ScimError(Exception):
    """An error answered in SCIM's error JSON (RFC 7644 §3.12)."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def to_dict(self) -> dict[str, Any]:
        """The error document."""
        body: dict[str, Any] = {"schemas": [ERROR], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def parse_filter(text: str) -> tuple[str, str]:
    """``(attribute, value)`` of an ``eq`` filter on userName or externalId; 400 invalidFilter otherwise."""
    match = _FILTER_RE.match(text)
    if not match:
        raise ScimError(400, 'Supported filters: userName eq "..." and externalId eq "...".', "invalidFilter")
    attribute = "userName" if match.group(1).lower() == "username" else "externalId"
    return attribute, re.sub(r"\\(.)", r"\1", match.group(2))


def _bool(value: Any, where: str) -> bool:
    # some identity providers send "True"/"False" as strings
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimError(400, f"{where} must be a boolean.", "invalidValue")


def user_fields(resource: Any) -> dict[str, Any]:
    """The licensed-user fields of a User resource (POST and PUT bodies); 400 when it is not one."""
    if not isinstance(resource, dict):
        raise ScimError(400, "The body must be a SCIM User object.", "invalidSyntax")
    user_name = resource.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise ScimError(400, "userName is required.", "invalidValue")
    fields: dict[str, Any] = {"user_id": user_name, "status": "active"}
    if "active" in resource:
        fields["status"] = "active" if _bool(resource["active"], "active") else "suspended"
    if resource.get("externalId") is not None:
        fields["external_id"] = str(resource["externalId"])[:200]
    fields.update(_extension_fields(resource.get(EXTENSION)))
    return fields


def _extension_fields(extension: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if extension is None:
        return fields
    if not isinstance(extension, dict):
        raise ScimError(400, f"{EXTENSION} must be an object.", "invalidSyntax")
    if extension.get("customerId") is not None:
        try:
            fields["customer_id"] = int(extension["customerId"])
        except (TypeError, ValueError):
            raise ScimError(400, "customerId must be a customer id.", "invalidValue") from None
    if extension.get("licenceType") is not None:
        fields["licence_type"] = str(extension["licenceType"])
    return fields


_PATCH_PATHS = {"active": "active", "username": "userName", "externalid": "externalId"}


def patch_changes(body: Any) -> dict[str, Any]:
    """The licensed-user changes of a PatchOp body (RFC 7644 §3.5.2), for the attributes supported."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list) or not body["Operations"]:
        raise ScimError(400, "A PatchOp needs a non-empty Operations list.", "invalidSyntax")
    changes: dict[str, Any] = {}
    for operation in body["Operations"]:
        if not isinstance(operation, dict) or str(operation.get("op", "")).lower() not in ("replace", "add"):
            raise ScimError(400, "Only replace and add operations are supported.", "invalidSyntax")
        path, value = operation.get("path"), operation.get("value")
        if path is None:
            if not isinstance(value, dict):
                raise ScimError(400, "An operation without path needs an object value.", "invalidValue")
            pairs = list(value.items())
        else:
            pairs = [(path, value)]
        for name, item in pairs:
            if name == EXTENSION:
                changes.update(_extension_fields(item))
                continue
            if name.startswith(EXTENSION + ":"):
                changes.update(_extension_fields({name[len(EXTENSION) + 1 :]: item}))
                continue
            attribute = _PATCH_PATHS.get(str(name).lower())
            if attribute is None:
                raise ScimError(400, f"Attribute {name!r} cannot be changed here.", "invalidPath")
            if attribute == "active":
                changes["status"] = "active" if _bool(item, "active") else "suspended"
            elif attribute == "userName":
                changes["user_id"] = item
            else:
                changes["external_id"] = None if item is None else str(item)[:200]
    return changes


def user_resource(user: Any, base_url: str) -> dict[str, Any]:
    """The SCIM User resource of a licensed user."""
    return {
        "schemas": [USER_SCHEMA, EXTENSION],
        "id": str(user.id),
        "externalId": user.external_id,
        "userName": user.user_id,
        "active": user.status == "active",
        EXTENSION: {"customerId": str(user.customer_id), "licenceType": user.licence_type},
        "meta": {
            "resourceType": "User",
            "created": user.created_at.isoformat(),
            "lastModified": user.updated_at.isoformat(),
            "location": f"{base_url}/scim/v2/Users/{user.id}",
            "version": f'W/"{user.version}"',
        },
    }


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    """A ListResponse (RFC 7644 §3.4.2)."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
