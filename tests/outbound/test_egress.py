"""The egress policy and the bounded HTTP client: refusals, address pinning, TLS, redirects."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.outbound import egress
from app.outbound.egress import EgressPolicy, EgressRefused
from app.outbound.http import FetchError, fetch
from tests.licensing.webservice.fake_partner import FakePartner

STRICT = EgressPolicy()
LOOSE = EgressPolicy(allow_private=True)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://partner.example/licences", "not_https"),
        ("ftp://partner.example/", "not_https"),
        ("https:///nohost", "bad_url"),
        ("https://user:pw@partner.example/", "bad_url"),
        ("https://partner.example/a b", "bad_url"),
        ("https://partner.example/\x00", "bad_url"),
        ("https://partner.example:99999/", "bad_url"),
    ],
)
def test_urls_that_may_not_be_called(url, reason):
    with pytest.raises(EgressRefused) as caught:
        STRICT.target(url)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata: link-local
        "100.64.0.1",  # shared address space
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_refused(address):
    with pytest.raises(EgressRefused) as caught:
        STRICT.check_address(ipaddress.ip_address(address))
    assert caught.value.reason == "private_address"
    LOOSE.check_address(ipaddress.ip_address(address))  # allowed with LIVERY_EGRESS_ALLOW_PRIVATE


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"])
def test_public_addresses_are_allowed(address):
    STRICT.check_address(ipaddress.ip_address(address))


def test_every_resolved_address_is_checked(monkeypatch):
    answers = [(socket.AF_INET, 1, 6, "", ("93.184.215.14", 443)), (socket.AF_INET, 1, 6, "", ("10.0.0.7", 443))]
    monkeypatch.setattr(egress.socket, "getaddrinfo", lambda *a, **k: answers)
    with pytest.raises(EgressRefused):
        STRICT.resolve(STRICT.target("https://mixed.example/"), timeout=1)


def test_loopback_by_name_and_by_literal_are_refused_before_any_connection():
    partner = FakePartner().start()
    try:
        for url in (partner.base_url + "/x", partner.base_url.replace("http:", "https:") + "/x"):
            with pytest.raises(FetchError) as caught:
                fetch(STRICT, url)
            assert caught.value.kind == "refused"
        with pytest.raises(FetchError):
            fetch(STRICT, f"https://localhost:{partner.server.server_address[1]}/x")
        assert partner.requests == []
    finally:
        partner.stop()


def test_the_host_is_resolved_once_and_the_checked_address_is_connected(monkeypatch):
    partner = FakePartner({"a": "x"}).start()
    calls = []
    real = socket.getaddrinfo

    def lookup(host, port, *args, **kw):
        calls.append(host)
        assert len(calls) == 1, "resolved twice: a DNS-rebinding gap"
        return real("127.0.0.1", port, *args, **kw)

    monkeypatch.setattr(egress.socket, "getaddrinfo", lookup)
    try:
        port = partner.server.server_address[1]
        answer = fetch(LOOSE, f"http://partner.test:{port}/licences/a")
        assert answer.status == 200 and calls == ["partner.test"]
        assert partner.requests[0]["headers"]["Host"] == f"partner.test:{port}"
    finally:
        partner.stop()


def test_a_3xx_to_a_private_address_is_returned_not_followed():
    partner, target = FakePartner().start(), FakePartner({"a": "x"}).start()
    try:
        partner.mode, partner.redirect_to = "redirect", target.base_url + "/licences/a"
        answer = fetch(LOOSE, partner.base_url + "/licences/a")
        assert answer.status == 302 and target.requests == []
    finally:
        partner.stop()
        target.stop()


def _certificate(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_verifies_the_certificate_for_the_host_name_while_connecting_to_the_checked_address(
    tmp_path, monkeypatch
):
    cert, key = _certificate(tmp_path, "partner.test")
    partner = FakePartner({"a": "x"})
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    partner.server.socket = server_context.wrap_socket(partner.server.socket, server_side=True)
    partner.start()
    real = socket.getaddrinfo
    monkeypatch.setattr(egress.socket, "getaddrinfo", lambda host, port, *a, **kw: real("127.0.0.1", port, *a, **kw))
    trusting = ssl.create_default_context(cafile=str(cert))
    port = partner.server.server_address[1]
    try:
        answer = fetch(LOOSE, f"https://partner.test:{port}/licences/a", ssl_context=trusting)
        assert answer.status == 200 and b'"licensed": true' in answer.body
        with pytest.raises(FetchError) as caught:  # a certificate for another name
            fetch(LOOSE, f"https://other.test:{port}/licences/a", ssl_context=trusting)
        assert caught.value.kind == "tls"
        with pytest.raises(FetchError) as caught:  # a self-signed certificate nobody trusts
            fetch(LOOSE, f"https://partner.test:{port}/licences/a")
        assert caught.value.kind == "tls"
    finally:
        partner.stop()
