"""Fast path and Flask agree on every public route, for odd paths and odd headers, GET and HEAD.

The fault-injection campaign found ``GET /v1/assets/<64 hex>%0A`` with ``If-None-Match: *``
answered 500 by the fast path (an ETag header with a newline in it) and 404 by Flask. Here
every path variant x header variant x method of discovery, upgrade polls and assets goes
through the whole app and through Flask alone (tests/api/public/parity.py): same status, same
header list, same bytes, and never a 5xx. Install reports (POST) go through every path variant
with odd endings of ``/reports``.
"""

from __future__ import annotations

import json

import pytest

from tests import factories, images
from tests.api.public.parity import answers
from tests.api.public.test_upgrade import Setup

# {x}: the valid code or digest
PATHS = {
    "plain": "{x}",
    "newline": "{x}%0A",
    "carriage return": "{x}%0D",
    "newline inside": "{x_head}%0A{x_tail}",
    "nul": "{x}%00",
    "tab": "{x}%09",
    "space": "{x}%20",
    "trailing slash": "{x}/",
    "two slashes": "{x}//",
    "leading slash": "/{x}",
    "dot segments": "..%2F{x}",
    "upper case": "{X}",
    "overlong": "{x}" + "0" * 300,
    "very long": "A" * 9000,
    "unicode": "{x}%C3%A9",
    "zero width space": "%E2%80%8B{x}",
    "encoded surrogate": "{x}%ED%A0%80",
    "invalid utf-8": "{x}%FF",
    "percent": "{x}%25",
    "empty": "",
}
# {etag}: the plain path's ETag
HEADERS = {
    "none": {},
    "star": {"If-None-Match": "*"},
    "exact": {"If-None-Match": "{etag}"},
    "weak": {"If-None-Match": "W/{etag}"},
    "list": {"If-None-Match": '"other", {etag}'},
    "list without it": {"If-None-Match": '"other", W/"more"'},
    "garbage": {"If-None-Match": 'garbage"'},
    "commas": {"If-None-Match": " , ,"},
    "unquoted": {"If-None-Match": "{etag_bare}"},
    "overlong": {"If-None-Match": '"' + "a" * 8000 + '"'},
    "with accept": {"If-None-Match": "{etag}", "Accept": "text/html"},
}
QUERY = "platform=windows-x64&version=5.1.0&install_id=install-1"
REPORT_ENDINGS = ("/reports", "/reports/", "/Reports", "/reports%0A", "//reports", "/reports/reports", "reports")


def _disagreements(app, prefix: str, value: str, query: str = "") -> list[str]:
    plain = answers(app, prefix + value, query)
    assert plain.whole[0] == "200 OK", plain.whole
    etag = dict(plain.whole[1])["ETag"]
    fields = {"x": value, "X": value.upper(), "x_head": value[:4], "x_tail": value[4:]}
    found = []
    for path_name, path in PATHS.items():
        for header_name, headers in HEADERS.items():
            sent = {name: v.format(etag=etag, etag_bare=etag.strip('"')) for name, v in headers.items()}
            for method in ("GET", "HEAD"):
                result = answers(app, prefix + path.format(**fields), query, method, **sent)
                where = f"{method} {path_name} / If-None-Match {header_name}"
                if result.whole != result.flask:
                    found.append(f"{where}: fast path {result.whole[0]}, Flask {result.flask[0]}")
                elif result.whole[0] >= "500":
                    found.append(f"{where}: {result.whole[0]}")
    return found


@pytest.fixture
def setup(app) -> Setup:
    return Setup(app)


def test_discovery(setup):
    assert _disagreements(setup.app, "/v1/discovery/", setup.code) == []


def test_upgrade_polls(setup):
    assert _disagreements(setup.app, "/v1/upgrade/", setup.code, QUERY) == []


def test_assets(setup):
    sha256 = factories.upload(setup.app, setup.partner.id, "tray_icon", images.png(32, 32))
    assert _disagreements(setup.app, "/v1/assets/", sha256) == []


def test_install_reports(make_app):
    setup = Setup(make_app(upgrade_reports_flush_seconds=5))  # a report sent twice stays one pending report
    fields = {"x": setup.code, "X": setup.code.upper(), "x_head": setup.code[:4], "x_tail": setup.code[4:]}
    found, accepted = [], 0
    for n, (path_name, path) in enumerate(PATHS.items()):
        for ending in REPORT_ENDINGS:
            body = {"install_id": f"install-{n}", "from_version": "5.1.0", "to_version": "5.3.0",
                    "platform": "windows-x64", "outcome": "failed", "serial": 1}  # fmt: skip
            url = "/v1/upgrade/" + path.format(**fields) + ending
            result = answers(setup.app, url, method="POST", data=json.dumps(body).encode())
            if result.whole != result.flask:
                found.append(f"{path_name} + {ending}: fast path {result.whole[0]}, Flask {result.flask[0]}")
            elif result.whole[0] >= "500":
                found.append(f"{path_name} + {ending}: {result.whole[0]}")
            accepted += result.whole[0].startswith("202")
    assert found == []
    assert accepted >= 2  # the plain path, at least (upper case and spaces may normalise to the code)
