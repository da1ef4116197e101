"""COSE Sign1 governance requests: what is signed, and every way a message is refused."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given
from hypothesis import strategies as st

from enclave.crypto.cose import (
    COSE_SIGN1_TAG,
    ES256,
    ES384,
    BadHeader,
    BadSignature,
    CoseError,
    GovMessageType,
    MalformedCbor,
    UnknownAlgorithm,
    WrongStructure,
    parse_and_verify,
    parse_request,
)
from tests.enclave.governance.governance_scenario import NOW, Member

ALICE = Member.create(1)
PAYLOAD = b'{"actions": []}'


def signed(**headers: object) -> bytes:
    """A request re-signed by Alice after replacing protected headers (None removes one)."""
    message = cbor2.loads(ALICE.sign(PAYLOAD, GovMessageType.PROPOSAL, NOW))
    protected = cbor2.loads(message.value[0])
    for name, value in headers.items():
        label: object = {"alg": 1, "kid": 4}.get(name, f"ccf.gov.msg.{name}")
        if value is None:
            del protected[label]
        else:
            protected[label] = value
    return resign(cbor2.dumps(protected))


def resign(protected: bytes, payload: bytes = PAYLOAD) -> bytes:
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = utils.decode_dss_signature(ALICE.key.sign(to_be_signed, ec.ECDSA(ES384.hash)))
    signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    return bytes(cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature])))


def test_a_signed_request_parses_and_verifies() -> None:
    data = ALICE.sign({"vote": "accept"}, GovMessageType.BALLOT, NOW, "p1")
    request = parse_and_verify(data, ALICE.cert)
    assert request.algorithm is ES384
    assert request.kid == ALICE.id
    assert (request.msg_type, request.created_at, request.proposal_id) == (GovMessageType.BALLOT, NOW, "p1")
    assert request.payload == b'{"vote": "accept"}'
    # RFC 6979: signing is deterministic.
    assert data == ALICE.sign({"vote": "accept"}, GovMessageType.BALLOT, NOW, "p1")


def test_es256_is_accepted_for_a_p256_key() -> None:
    member = Member.create(2, ec.SECP256R1())
    request = parse_and_verify(member.sign(PAYLOAD, GovMessageType.PROPOSAL, NOW), member.cert)
    assert request.algorithm is ES256


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", MalformedCbor),
        (b"\xff", MalformedCbor),
        (ALICE.sign(PAYLOAD, GovMessageType.PROPOSAL, NOW) + b"\x00", MalformedCbor),
        (cbor2.dumps([b"", {}, b"", b""]), WrongStructure),
        (cbor2.dumps(cbor2.CBORTag(17, [b"\xa0", {}, b"", b""])), WrongStructure),
        (cbor2.dumps(cbor2.CBORTag(18, [b"\xa0", {}, b""])), WrongStructure),
        (cbor2.dumps(cbor2.CBORTag(18, [b"\xa0", {}, None, b""])), WrongStructure),
        (cbor2.dumps(cbor2.CBORTag(18, [b"\x80", {}, b"", b""])), WrongStructure),
        (cbor2.dumps(cbor2.CBORTag(18, [b"\xa1", {}, b"", b""])), MalformedCbor),
        (b"\x81" * 100_000, MalformedCbor),
        (b"\x9b\xff\xff\xff\xff\xff\xff\xff\x00", MalformedCbor),
        (b"\x5b\x00\x00\x00\x10\x00\x00\x00\x00", MalformedCbor),
        (b"\xc1\x1b\xff\xff\xff\xff\xff\xff\xff\xff", MalformedCbor),
    ],
)
def test_malformed_messages_get_specific_errors(data: bytes, error: type[CoseError]) -> None:
    with pytest.raises(error):
        parse_request(data)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"alg": None}, BadHeader),
        ({"alg": -8}, UnknownAlgorithm),
        ({"alg": "ES384"}, UnknownAlgorithm),
        ({"alg": -7}, UnknownAlgorithm),
        ({"kid": None}, BadHeader),
        ({"kid": "text, not bytes"}, BadHeader),
        ({"kid": Member.create(3).id.encode()}, BadHeader),
        ({"type": None}, BadHeader),
        ({"type": "promotion"}, BadHeader),
        ({"created_at": None}, BadHeader),
        ({"created_at": "2026-01-01"}, BadHeader),
        ({"created_at": -1}, BadHeader),
        ({"proposal_id": "p1"}, BadHeader),
        ({"type": "ballot"}, BadHeader),
    ],
)
def test_bad_headers_get_specific_errors(headers: dict[str, object], error: type[CoseError]) -> None:
    with pytest.raises(error):
        parse_and_verify(signed(**headers), ALICE.cert)


def test_a_signature_by_another_key_or_over_other_bytes_is_refused() -> None:
    data = Member.create(4).sign(PAYLOAD, GovMessageType.PROPOSAL, NOW)
    with pytest.raises(BadHeader, match="kid"):
        parse_and_verify(data, ALICE.cert)
    message = cbor2.loads(ALICE.sign(PAYLOAD, GovMessageType.PROPOSAL, NOW))
    protected, _, _, signature = message.value
    tampered = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, b'{"actions": [1]}', signature]))
    with pytest.raises(BadSignature):
        parse_and_verify(tampered, ALICE.cert)
    with pytest.raises(BadSignature, match="raw r"):
        parse_and_verify(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, PAYLOAD, signature[:-1]])), ALICE.cert)


@given(st.binary(max_size=300))
def test_garbage_bytes_only_raise_cose_errors(data: bytes) -> None:
    with pytest.raises(CoseError):
        parse_and_verify(data, ALICE.cert)


VALID = ALICE.sign({"vote": "reject"}, GovMessageType.BALLOT, NOW, "p1")


@given(st.integers(0, len(VALID) - 1), st.integers(1, 255))
def test_any_flipped_byte_is_refused_with_a_cose_error(index: int, mask: int) -> None:
    data = bytearray(VALID)
    data[index] ^= mask
    with pytest.raises(CoseError):
        parse_and_verify(bytes(data), ALICE.cert)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.binary() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_well_formed_cbor_of_any_shape_only_raises_cose_errors(item: object) -> None:
    for candidate in (item, cbor2.CBORTag(18, item)):
        with pytest.raises(CoseError):
            parse_and_verify(cbor2.dumps(candidate), ALICE.cert)


def test_sign_request_refuses_a_proposal_id_where_it_does_not_belong() -> None:
    with pytest.raises(ValueError, match="proposal_id"):
        ALICE.sign(PAYLOAD, GovMessageType.PROPOSAL, NOW, proposal_id="x")
    with pytest.raises(ValueError, match="proposal_id"):
        ALICE.sign(PAYLOAD, GovMessageType.BALLOT, NOW)
