"""Revocations, suspensions and halts through both shipped nginx topologies, under load (issue 17).

Debian's nginx runs deploy/nginx/microcache.conf (in front of gunicorn, two sync workers) and
deploy/nginx/static.conf (serving a static-publish root) as shipped, with loopback ports and
paths substituted by bench/nginx_conf.py. This process holds the admin side: it makes each change
through the services on the same database, and its static publisher rewrites the root after the
commit, as an admin worker does (docs/deployment.md).

Clients keep asking during and after each change, through each topology, as the reference client
does: straight at the micro-cache (the per-install poll, and the code's manifest from
``/v1/upgrade-manifest/``, one URI per code); or the static file first, the API (through the
micro-cache) when the file is missing. Every answer is labelled old (the answer before the change: 200, or the
304 confirming it) or new, with its send time after the commit. The bound holds when every
answer sent ``BOUND`` s or more after the commit is new: Livery's own 2 s (each worker sees a
change within 1 s, tests/e2e/test_freshness.py) plus the micro-cache's 1 s (``s-maxage=1``).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from flask import Flask

from app import create_app
from app.branding.codes import code_digest, normalise_code
from bench import nginx_conf, servers
from tests import factories, services
from tests.api.admin.conftest import Caller, make_operator, onboard
from tests.e2e.conftest import _env, start_gunicorn, stop_gunicorn
from tests.e2e.test_nginx_front import nginx_deployment_folder
from tests.upgrades.catalogue import add_release, control_file, upload_control_file

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BOUND = 3.0  # docs/deployment.md: Livery's 2 s + the micro-cache's 1 s
WATCH = 4.5  # how long clients keep asking after the commit
CLIENTS = 6  # per topology
POLL = "platform=windows-x64&version=5.1.0&install_id=install-1"


@dataclass
class Deployment:
    app: Flask
    admin: Caller
    front: int  # nginx micro-cache port (the API)
    static: int  # nginx static-root port
    codes: dict[str, str]  # case -> live code
    partners: dict[str, int]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    tmp_path, settings = nginx_deployment_folder(tmp_path_factory, "nginx-safety")
    root = tmp_path / "static-root"
    app = create_app(settings.with_overrides(static_publish_root=str(root)))
    partner = onboard(make_operator(app), "safety")
    add_release(partner.admin, "5.2.0")
    assert upload_control_file(partner.admin, control_file(("5.2.0", 100))).status_code == 201
    brand_id = factories.make_brand(app, partner.id, product_name="Safety", short_name="Safety")
    codes = {"revoke": factories.issue(app, brand_id, "live"), "halt": factories.issue(app, brand_id, "live")}
    other = factories.seed_ci_c(app, "suspended")
    codes["suspend"] = other.live_code
    app.extensions["livery.publisher"].publish_all()
    upstream, front, static = services.free_port(), services.free_port(), services.free_port()
    with ExitStack() as stack:
        stack.callback(app.extensions["livery.engine"].dispose)
        gunicorn = start_gunicorn(upstream, _env(settings), stderr_path=tmp_path / "gunicorn.err")
        stack.callback(stop_gunicorn, gunicorn)
        prefix = tmp_path / "nginx"
        servers_text = nginx_conf.front_proxy(prefix, port=front, upstream_port=upstream, per_address=10_000)
        servers_text += nginx_conf.static_root(port=static, root=root)
        stack.callback(servers.nginx(nginx_conf.standalone(prefix, servers_text), prefix).stop)
        services.wait_for_port(front, timeout=20)
        services.wait_for_port(static, timeout=20)
        yield Deployment(app, partner.admin, front, static, codes, {"suspend": other.partner_id})


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _digest(code: str) -> str:
    return code_digest(normalise_code(code))


# -- what one client launch sees, labelled "old" or "new" ----------------------------------------


def discovery_micro(dep: Deployment, code: str, etag: str | None) -> tuple[str, str]:
    status, headers, _body = _get(dep.front, f"/v1/discovery/{code}", {"If-None-Match": etag} if etag else None)
    return ("old" if status in (200, 304) else "new" if status == 410 else f"unexpected {status}"), headers.get(
        "x-cache-status", ""
    )


def discovery_static(dep: Deployment, code: str, etag: str | None) -> tuple[str, str]:
    status, _headers, _body = _get(dep.static, f"/discovery/{_digest(code)}.json")
    if status == 200:
        return "old", "static"
    return discovery_micro(dep, code, None)[0], "api"  # 404 from the static root: the API decides


def upgrade_micro(dep: Deployment, code: str, etag: str | None) -> tuple[str, str]:
    path = f"/v1/upgrade/{code}?{POLL}"
    status, headers, body = _get(dep.front, path, {"If-None-Match": etag} if etag else None)
    cache = headers.get("x-cache-status", "")
    if status == 304:
        return "old", cache
    if status != 200:
        return f"unexpected {status}", cache
    reason = json.loads(body)["payload"]["reason"]
    return ("new" if reason == "halted" else "old" if reason == "offered" else f"unexpected {reason}"), cache


def manifest_micro(dep: Deployment, code: str, etag: str | None) -> tuple[str, str]:
    """The API's manifest (/v1/upgrade-manifest/: one URI per code) through the micro-cache."""
    status, headers, body = _get(dep.front, f"/v1/upgrade-manifest/{code}")
    cache = headers.get("x-cache-status", "")
    if status == 410:
        return "new", cache
    if status != 200:
        return f"unexpected {status}", cache
    return ("new" if json.loads(body)["payload"]["halted"] else "old"), cache


def upgrade_static(dep: Deployment, code: str, etag: str | None) -> tuple[str, str]:
    status, _headers, body = _get(dep.static, f"/upgrade/{_digest(code)}/manifest.json")
    if status == 200:
        return ("new" if json.loads(body)["payload"]["halted"] else "old"), "static"
    return upgrade_micro(dep, code, None)[0], "api"


@dataclass
class Case:
    name: str
    code: str
    probes: dict[str, Callable[[Deployment, str, str | None], tuple[str, str]]]
    change: Callable[[], None]
    old_path: str  # the API path whose ETag some clients revalidate


def _watch(dep: Deployment, case: Case) -> dict[str, list[tuple[float, str, str]]]:
    """Clients on every topology during the change; (send time after the commit, label, cache) per topology."""
    _status, headers, _body = _get(dep.front, case.old_path)
    etag = headers.get("etag")
    seen: dict[str, list[tuple[float, str, str]]] = {name: [] for name in case.probes}
    committed: list[float] = []
    stop = time.monotonic() + 1.0 + WATCH + 5.0  # replaced once the change is committed

    def client(topology: str, index: int) -> None:
        probe = case.probes[topology]
        while time.monotonic() < stop:
            sent = time.monotonic()
            label, cache = probe(dep, case.code, etag if index % 2 else None)
            if committed:
                seen[topology].append((sent - committed[0], label, cache))

    threads = [threading.Thread(target=client, args=(t, i)) for t in case.probes for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)  # the old answer is in every cache, under load
        case.change()
        committed.append(time.monotonic())
        stop = committed[0] + WATCH
    finally:
        if not committed:
            stop = 0
        for thread in threads:
            thread.join()
    return seen


def _assert_bound(case: Case, seen: dict[str, list[tuple[float, str, str]]]) -> dict[str, float]:
    latest_old = {}
    for topology, answers in seen.items():
        labels = {label for _sent, label, _cache in answers}
        assert labels <= {"old", "new"}, (case.name, topology, labels)
        late = [(round(sent, 3), cache) for sent, label, cache in answers if label == "old" and sent >= BOUND]
        assert not late, f"{case.name} through {topology}: old answers sent after {BOUND} s: {late[:10]}"
        after = [label for sent, label, _cache in answers if sent >= BOUND]
        assert len(after) >= 10, f"{case.name} through {topology}: only {len(after)} answers after {BOUND} s"
        latest_old[topology] = max((sent for sent, label, _cache in answers if label == "old"), default=0.0)
    return latest_old


def test_revocation_suspension_and_halt_hold_the_bound_through_both_topologies(deployment):
    dep = deployment
    discovery = {"micro-cache": discovery_micro, "static root": discovery_static, "manifest": manifest_micro}
    upgrade = {"micro-cache": upgrade_micro, "static root": upgrade_static, "manifest": manifest_micro}
    for name in ("revoke", "suspend", "halt"):  # every client sees the old answer first
        path = f"/v1/upgrade/{dep.codes[name]}?{POLL}" if name == "halt" else None
        assert _get(dep.front, path or f"/v1/discovery/{dep.codes[name]}")[0] == 200
    assert _get(dep.static, f"/upgrade/{_digest(dep.codes['halt'])}/manifest.json")[0] == 200

    def halt() -> None:
        response = dep.admin.post("/channels/stable/halt", {"reason": "crash on start"})
        assert response.status_code == 200, response.json

    cases = [
        Case(
            "revoke",
            dep.codes["revoke"],
            discovery,
            lambda: factories.revoke(dep.app, dep.codes["revoke"]),
            f"/v1/discovery/{dep.codes['revoke']}",
        ),
        Case(
            "suspend",
            dep.codes["suspend"],
            discovery,
            lambda: factories.set_status(dep.app, dep.partners["suspend"], "suspended"),
            f"/v1/discovery/{dep.codes['suspend']}",
        ),
        Case("halt", dep.codes["halt"], upgrade, halt, f"/v1/upgrade/{dep.codes['halt']}?{POLL}"),
    ]
    measured = {case.name: _assert_bound(case, _watch(dep, case)) for case in cases}
    print(f"\nlatest old answer after the commit (s): {measured}")
