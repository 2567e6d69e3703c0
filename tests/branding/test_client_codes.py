"""The reference client's copy of the code rules (client/livery_client/codes.py) agrees with the server's.

The client normalises a typed code for the URL and digests it for its cache names and for the
upgrade answer's binding; the server decides. Every code the server accepts must reach the
server's own digest through the client (else a partner's build could not launch), and the client
may pass on only what the server will judge (it refuses nothing the server accepts).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from livery_client import codes as client_codes

from app.branding import codes as server_codes

# what people type: the alphabet, lookalikes, either case, separators, and a few strangers
TYPED = st.text(alphabet=server_codes.ALPHABET + "ilo" + "ILO" + "abcdefghjkmnpqrstvwxyz" + "- \t_.é", max_size=40)


def _typed_forms(canonical: str) -> list[str]:
    shown = server_codes.format_code(canonical)
    return [canonical, shown, shown.lower(), " ".join(shown.split("-")), canonical.replace("1", "l").replace("0", "O")]


@given(st.builds(lambda _: server_codes.generate_code(), st.none()))
def test_every_valid_code_in_every_typed_form_reaches_the_same_digest(canonical):
    assert client_codes.format_code(canonical) == server_codes.format_code(canonical)
    for typed in _typed_forms(canonical):
        assert client_codes.normalise_code(typed) == server_codes.normalise_code(typed) == canonical
        assert client_codes.code_digest(canonical) == server_codes.code_digest(canonical)
        assert server_codes.public_digest(typed) == client_codes.code_digest(canonical)


@given(TYPED)
def test_the_client_never_refuses_what_the_server_accepts(typed):
    server = server_codes.normalise_code(typed)
    if server is not None:
        assert client_codes.normalise_code(typed) == server
        assert client_codes.code_digest(server) == server_codes.code_digest(server)
    client = client_codes.normalise_code(typed)
    if client is not None:  # a code-shaped string: the server judges its check symbol
        assert len(client) == server_codes.CODE_LENGTH and set(client) <= set(server_codes.ALPHABET)
