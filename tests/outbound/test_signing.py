"""Standard Webhooks signatures: the published test vector, rotation, tolerance."""

from __future__ import annotations

import pytest

from app.outbound.signing import SignatureInvalid, new_secret, signature, signature_headers, verify

VECTOR = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')


def test_the_standard_webhooks_test_vector_reproduces():
    assert signature(*VECTOR) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_whsec_and_32_random_bytes():
    one, two = new_secret(), new_secret()
    assert one.startswith("whsec_") and len(one) == 6 + 44 and one != two


def test_headers_verify_with_either_secret_during_rotation():
    old, new = new_secret(), new_secret()
    headers = signature_headers(new, b"", 1_800_000_000)
    verify([old, new], headers, b"", now=1_800_000_100)
    with pytest.raises(SignatureInvalid):
        verify([old], headers, b"", now=1_800_000_100)


def test_stale_tampered_or_missing_headers_do_not_verify():
    secret = new_secret()
    headers = signature_headers(secret, b"body", 1_800_000_000)
    with pytest.raises(SignatureInvalid):
        verify([secret], headers, b"body", now=1_800_000_301)
    with pytest.raises(SignatureInvalid):
        verify([secret], headers, b"other", now=1_800_000_000)
    with pytest.raises(SignatureInvalid):
        verify([secret], {"webhook-id": "x"}, b"body", now=1_800_000_000)
