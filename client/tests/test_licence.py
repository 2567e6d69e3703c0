"""check_licence and ``livery-client licence``: verified answers, nonce, stored leases offline,
and the documented exit codes, against the scripted service on loopback."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import CANONICAL, CODE
from livery_client.cli.main import main
from livery_client.codes import code_digest
from livery_client.errors import AnswerMismatchError, CodeRevoked, ServiceUnavailable, SignatureError
from livery_client.licence import user_key

USERS = {"anna@example.com": ("valid", "pro"), "sam@example.com": ("suspended", None)}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def answer(body: dict[str, Any], *, lease: timedelta = timedelta(days=7)) -> dict[str, Any]:
    """What the service answers for ``body`` (statuses from USERS, else not_licensed)."""
    key = user_key(body["user_id"])
    status, licence_type = USERS.get(key, ("not_licensed", None))
    now = datetime.now(UTC)
    licensed = status in ("valid", "grace")
    return {
        "licensed": licensed,
        "status": status,
        "licence_type": licence_type,
        "user_id": key,
        "method": "portal",
        "access_code_digest": code_digest(CANONICAL),
        "install_id": body["install_id"],
        "nonce": body.get("nonce"),
        "issued_at": _stamp(now),
        "lease_until": _stamp(now + (lease if licensed else timedelta(0))),
    }


@pytest.fixture
def service(livery):
    livery.licence = answer
    return livery


def test_a_licensed_user_gets_a_verified_lease_with_a_fresh_nonce(service, make_client):
    client = make_client()
    licence = client.check_licence("Anna@Example.com ")
    assert licence.licensed and licence.status == "valid" and licence.licence_type == "pro"
    assert licence.key_id == service.key_id and not licence.offline
    client.check_licence("anna@example.com")
    nonces = {r.query["nonce"] for r in service.hits("/v1/licenses/check")}
    assert len(nonces) == 2  # a fresh one per request
    assert service.hits("/v1/licenses/check")[0].query["install_id"] == client.install_id()


def test_offline_the_stored_unexpired_lease_is_used(service, make_client):
    client = make_client()
    assert client.check_licence("anna@example.com").licensed
    service.stop()
    offline = client.check_licence("ANNA@example.com")
    assert offline.licensed and offline.offline and "cannot reach" in offline.offline_reason
    with pytest.raises(ServiceUnavailable, match="no unexpired lease"):
        client.check_licence("bob@example.com")


def test_an_expired_lease_is_not_used(service, make_client):
    service.licence = lambda body: answer(body, lease=timedelta(seconds=1))
    client = make_client()
    assert client.check_licence("anna@example.com").licensed
    time.sleep(2.1)
    service.fail_status = 503
    with pytest.raises(ServiceUnavailable):
        client.check_licence("anna@example.com")


def test_a_not_licensed_answer_drops_the_stored_lease(service, make_client):
    client = make_client()
    assert client.check_licence("anna@example.com").licensed
    USERS["anna@example.com"] = ("suspended", None)
    try:
        assert client.check_licence("anna@example.com").status == "suspended"
        service.fail_status = 503
        with pytest.raises(ServiceUnavailable):
            client.check_licence("anna@example.com")  # the lease went with the suspension
    finally:
        USERS["anna@example.com"] = ("valid", "pro")


def test_an_unavailable_method_falls_back_to_the_stored_lease(service, make_client):
    client = make_client()
    assert client.check_licence("anna@example.com").licensed
    service.licence = lambda body: {**answer(body), "licensed": False, "status": "unavailable", "licence_type": None}
    licence = client.check_licence("anna@example.com")
    assert licence.licensed and licence.offline and licence.status == "valid"


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        (lambda e: {**e, "payload": {**e["payload"], "nonce": "replayed"}}, SignatureError),
        (lambda e: {**e, "signature": {**e["signature"], "key_id": "k9"}}, SignatureError),
    ],
    ids=["tampered", "unknown-key"],
)
def test_answers_that_do_not_verify_are_refused(service, make_client, hook, error):
    service.envelope_hook = hook
    with pytest.raises(error):
        make_client().check_licence("anna@example.com")


def test_a_correctly_signed_answer_with_another_nonce_is_refused(service, make_client):
    service.licence = lambda body: {**answer(body), "nonce": "an-old-one"}
    with pytest.raises(AnswerMismatchError, match="nonce"):
        make_client().check_licence("anna@example.com")


def test_a_revoked_code_is_an_error(service, make_client):
    service.code_status[CANONICAL] = 410
    with pytest.raises(CodeRevoked):
        make_client().check_licence("anna@example.com")


def _cli(service, cache_dir, capsys, *args: str) -> tuple[int, str, str]:
    argv = ["--base-url", service.base_url, "--code", CODE, "--cache-dir", str(cache_dir)]
    argv += ["--key", f"{service.key_id}={service.public_key}", "licence", *args]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exit_codes(service, cache_dir, capsys):
    code, out, err = _cli(service, cache_dir, capsys, "--user", "anna@example.com")
    assert code == 0 and "LICENSED: valid" in out and "pro" in out and err == ""
    code, out, _ = _cli(service, cache_dir, capsys, "--user", "sam@example.com", "--json")
    assert code == 8 and json.loads(out)["status"] == "suspended"
    code, _, _ = _cli(service, cache_dir, capsys, "--user", "nobody@example.com")
    assert code == 8
    service.stop()
    code, out, err = _cli(service, cache_dir, capsys, "--user", "anna@example.com")
    assert code == 0 and "offline" in out and "warning" in err
    code, _, _ = _cli(service, cache_dir, capsys, "--user", "nobody@example.com")
    assert code == 5


def test_cli_without_pinned_keys_is_a_usage_error(service, cache_dir, capsys):
    code = main(
        ["--base-url", service.base_url, "--code", CODE, "--cache-dir", str(cache_dir), "licence", "--user", "a"]
    )
    assert code == 2


def test_a_launch_asks_only_once_half_the_lease_has_passed(service, make_client):
    client = make_client()
    assert client.check_licence("anna@example.com", when_due=True).reused is False  # no lease yet: asked
    reused = client.check_licence("Anna@example.com", when_due=True)
    assert reused.licensed and reused.reused and not reused.offline
    assert len(service.hits("/v1/licenses/check")) == 1
    assert client.check_licence("anna@example.com").reused is False  # without when_due: always asked
    assert len(service.hits("/v1/licenses/check")) == 2

    service.licence = lambda body: answer(body, lease=timedelta(seconds=4))
    assert client.check_licence("anna@example.com").licensed
    time.sleep(2.1)  # past half of a 4 s lease (whole seconds): the launch asks again
    assert client.check_licence("anna@example.com", when_due=True).reused is False
    assert len(service.hits("/v1/licenses/check")) == 4
