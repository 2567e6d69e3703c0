"""check_licence and ``livery-client licence``: verified answers, nonce, stored leases offline,
and the documented exit codes, against the scripted service on loopback."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import CANONICAL, CODE
from livery_client.cache import ClientCache
from livery_client.cli.main import main
from livery_client.codes import code_digest
from livery_client.errors import AnswerMismatchError, CodeRevoked, ServiceUnavailable, SignatureError
from livery_client.licence import user_key

DAY = 86_400.0
USERS = {"anna@example.com": ("valid", "pro"), "sam@example.com": ("suspended", None)}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def answer(body: dict[str, Any], *, lease: timedelta = timedelta(days=7), at: float | None = None) -> dict[str, Any]:
    """What the service answers for ``body`` (statuses from USERS, else not_licensed), issued ``at``."""
    key = user_key(body["user_id"])
    status, licence_type = USERS.get(key, ("not_licensed", None))
    now = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
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


class Clock:
    """An injected clock (epoch seconds) the service's answers follow too."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))  # whole seconds, as leases are stamped

    def __call__(self) -> float:
        return self.now


class Waits(threading.Event):
    """A stop event whose wait() moves the clock instead of sleeping (never told to stop)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock, self.waited = clock, []

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.append(timeout)
        self.clock.now += timeout or 0
        return False


@pytest.fixture
def clock(service) -> Clock:
    clock = Clock()
    service.licence = lambda body: answer(body, at=clock.now)
    return clock


def checks(service) -> int:
    return len(service.hits("/v1/licenses/check"))


def test_a_launch_in_the_first_half_of_the_lease_asks_nothing(service, make_client, clock):
    client = make_client(clock=clock)
    first = client.check_licence("anna@example.com", when_due=True)  # no lease yet: the launch asks
    assert first.licensed and not first.reused and checks(service) == 1
    clock.now += 3 * DAY  # 3 of 7 days
    reused = client.check_licence("Anna@example.com", when_due=True)
    assert reused.licensed and reused.reused and reused.renew_at is None and not reused.offline
    assert checks(service) == 1
    assert client.check_licence("anna@example.com").reused is False  # without when_due: always asked
    assert checks(service) == 2


def test_past_half_the_launch_runs_on_the_lease_and_renews_within_the_spread_after_it(service, make_client, clock):
    client = make_client(clock=clock)
    client.check_licence("anna@example.com", when_due=True)
    clock.now += 4 * DAY  # past half of a 7-day lease
    launch_time = clock.now
    licence = client.check_licence("anna@example.com", when_due=True)
    assert licence.licensed and licence.reused and checks(service) == 1  # the launch asked nothing
    assert launch_time <= licence.renew_at <= launch_time + 600  # the default spread: 10 minutes
    # the renewal time is recorded: a second launch before it keeps it (and still asks nothing)
    clock.now += 1
    assert client.check_licence("anna@example.com", when_due=True).renew_at == licence.renew_at
    assert checks(service) == 1

    waits = Waits(clock)
    renewed = client.renew_licence_when_due("anna@example.com", licence, stop=waits)
    assert clock.now == licence.renew_at  # it waited exactly until renew_at, then asked once
    assert renewed.licensed and not renewed.reused and checks(service) == 2
    assert renewed.issued_at != licence.issued_at
    # the new lease is stored: the next launch is in its first half again, nothing to renew
    again = client.check_licence("anna@example.com", when_due=True)
    assert again.reused and again.renew_at is None and again.issued_at == renewed.issued_at
    assert checks(service) == 2


def test_the_background_renewal_reports_its_answer(service, make_client, clock):
    client = make_client(clock=clock, renewal_spread=0)
    client.check_licence("anna@example.com", when_due=True)
    clock.now += 4 * DAY
    licence = client.check_licence("anna@example.com", when_due=True)
    assert licence.renew_at == clock.now and checks(service) == 1  # spread 0: right after the launch
    answers = []
    thread = client.start_licence_renewal("anna@example.com", licence, on_renewed=answers.append)
    thread.join(10)
    assert [a.licensed for a in answers] == [True] and checks(service) == 2
    assert client.start_licence_renewal("anna@example.com", answers[0]) is None  # nothing due


def test_a_stopped_renewal_asks_nothing_and_stays_due(service, make_client, clock):
    client = make_client(clock=clock)
    client.check_licence("anna@example.com", when_due=True)
    clock.now += 4 * DAY
    client.rng = random.Random(7)
    licence = client.check_licence("anna@example.com", when_due=True)
    stop = threading.Event()
    stop.set()
    assert licence.renew_at > clock.now + 1
    clock.now = licence.renew_at - 1  # still a second to wait: the app quits before it
    assert client.renew_licence_when_due("anna@example.com", licence, stop=stop) is None
    assert checks(service) == 1
    clock.now += 2  # the next launch, after renew_at: the recorded renewal is overdue, due at once
    later = client.check_licence("anna@example.com", when_due=True)
    assert later.reused and later.renewal_delay(clock.now) == 0 and checks(service) == 1


def test_no_lease_or_an_expired_one_is_checked_in_the_launch(service, make_client, clock):
    client = make_client(clock=clock)
    assert not client.check_licence("anna@example.com", when_due=True).reused  # no lease
    clock.now += 7 * DAY + 1  # expired
    licence = client.check_licence("anna@example.com", when_due=True)
    assert licence.licensed and not licence.reused and licence.renew_at is None
    assert checks(service) == 2


def test_a_revoked_user_learns_it_at_the_renewal_and_the_next_launch_is_refused(service, make_client, clock):
    client = make_client(clock=clock)
    client.check_licence("anna@example.com", when_due=True)
    clock.now += 4 * DAY
    licence = client.check_licence("anna@example.com", when_due=True)
    USERS["anna@example.com"] = ("suspended", None)
    try:
        assert licence.licensed  # the launch ran on the lease; the revocation is not known yet
        renewed = client.renew_licence_when_due("anna@example.com", licence, stop=Waits(clock))
        assert not renewed.licensed and renewed.status == "suspended"
        refused = client.check_licence("anna@example.com", when_due=True)  # the lease is gone: asked
        assert not refused.licensed and checks(service) == 3
    finally:
        USERS["anna@example.com"] = ("valid", "pro")


@pytest.mark.parametrize("seed", range(40))
def test_the_spread_never_lets_a_lease_get_below_a_quarter_of_its_life(service, make_client, clock, seed):
    service.licence = lambda body: answer(body, lease=timedelta(hours=2), at=clock.now)
    client = make_client(clock=clock, renewal_spread=3600)  # the spread is longer than what is left
    client.rng = random.Random(seed)
    client.check_licence("anna@example.com", when_due=True)
    issued = clock.now
    clock.now += 3600 + seed * 30  # from half to just under three quarters of 2 h (1 h - 1 h 19 min 30 s)
    licence = client.check_licence("anna@example.com", when_due=True)
    assert licence.reused and clock.now <= licence.renew_at <= issued + 0.75 * 7200
    assert checks(service) == 1


def test_with_less_than_a_quarter_of_the_lease_left_the_launch_asks(service, make_client, clock):
    client = make_client(clock=clock)
    client.check_licence("anna@example.com", when_due=True)
    clock.now += 5.5 * DAY  # a renewal that did not happen (the app never ran long enough)
    licence = client.check_licence("anna@example.com", when_due=True)
    assert licence.licensed and not licence.reused and checks(service) == 2


def test_without_a_spread_the_launch_renews_in_the_launch_as_before(service, make_client, clock):
    client = make_client(clock=clock, renewal_spread=None)
    client.check_licence("anna@example.com", when_due=True)
    clock.now += 3 * DAY
    assert client.check_licence("anna@example.com", when_due=True).reused and checks(service) == 1
    clock.now += 1 * DAY
    licence = client.check_licence("anna@example.com", when_due=True)
    assert licence.licensed and not licence.reused and checks(service) == 2


@pytest.mark.parametrize("spread", [-1, 3601])
def test_the_spread_is_bounded(make_client, spread):
    with pytest.raises(ValueError, match="renewal spread"):
        make_client(renewal_spread=spread)


def test_cli_when_due_renews_after_the_launch_or_records_it_for_a_later_run(service, cache_dir, capsys):
    four_days_ago = time.time() - 4 * DAY
    service.licence = lambda body: answer(body, at=four_days_ago)  # leases already past half
    code, out, err = _cli(service, cache_dir, capsys, "--user", "anna@example.com", "--when-due")
    assert code == 0 and "LICENSED: valid" in out and checks(service) == 1  # no lease yet: asked
    code, out, err = _cli(service, cache_dir, capsys, "--user", "anna@example.com", "--when-due", "--json")
    licence = json.loads(out)
    assert code == 0 and licence["reused"] and checks(service) == 1  # the lease answered the launch
    assert time.time() - 5 <= licence["renew_at"] <= time.time() + 600
    assert "renewal due at" in err and "a later run renews it" in err
    service.licence = lambda body: answer(body)  # a fresh lease from now on
    ClientCache(cache_dir).store_lease_renewal(user_key("anna@example.com"), time.time() - 1)  # overdue
    code, out, err = _cli(service, cache_dir, capsys, "--user", "anna@example.com", "--when-due")
    assert code == 0 and "LICENSED: valid (stored lease)" in out and "renew at" in out
    assert "lease renewed until" in err and checks(service) == 2  # renewed after printing the launch's answer
    code, out, err = _cli(service, cache_dir, capsys, "--user", "anna@example.com", "--when-due")
    assert code == 0 and "renew at" not in out and err == "" and checks(service) == 2


def test_cli_wait_renewal_needs_when_due(service, cache_dir, capsys):
    code, _, err = _cli(service, cache_dir, capsys, "--user", "anna@example.com", "--wait-renewal")
    assert code == 2 and "--when-due" in err
