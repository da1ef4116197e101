"""COSE Sign1 (RFC 9052) governance requests with CCF's protected headers (ccf-formats.md, "Governance
request: COSE Sign1").

The message is CBOR tag 18 over `[protected_bstr, unprotected_map, payload_bstr, signature_bstr]`. The
protected header carries `alg` (1), `kid` (4: the ASCII hex SHA-256 of the signer's certificate DER, as a
byte string), `ccf.gov.msg.type`, `ccf.gov.msg.created_at` (integer Unix seconds) and, for ballots and
withdrawals, `ccf.gov.msg.proposal_id`. The signature is ECDSA with the curve's hash over the CBOR
`Sig_structure` `["Signature1", protected_bstr, b"", payload]`, encoded raw as r||s.

Parsing is split from verification: the verifier first needs the `kid` to find the signer's certificate.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from enclave.crypto.ids import certificate_fingerprint

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_KID = 4
HEADER_MSG_TYPE = "ccf.gov.msg.type"
HEADER_CREATED_AT = "ccf.gov.msg.created_at"
HEADER_PROPOSAL_ID = "ccf.gov.msg.proposal_id"


# What cbor2 returns for a lone "break" stop code (0xff), which is not a data item (RFC 8949 3.2.1).
_BREAK_MARKER: object = cbor2.loads(b"\xff")


class GovMessageType(StrEnum):
    """CCF's `ccf.gov.msg.type` values (ccf.cose.GOV_MSG_TYPES)."""

    PROPOSAL = "proposal"
    BALLOT = "ballot"
    WITHDRAWAL = "withdrawal"
    ACK = "ack"
    STATE_DIGEST = "state_digest"
    RECOVERY_SHARE = "recovery_share"
    ENCRYPTED_RECOVERY_SHARE = "encrypted_recovery_share"


TYPES_WITH_PROPOSAL_ID = frozenset({GovMessageType.BALLOT, GovMessageType.WITHDRAWAL})


@dataclass(frozen=True, slots=True)
class CoseAlgorithm:
    """An ECDSA COSE algorithm: its identifier, curve and hash (RFC 9053 2.1)."""

    ident: int
    curve: ec.EllipticCurve
    hash: hashes.HashAlgorithm

    @property
    def coordinate_size(self) -> int:
        return (self.curve.key_size + 7) // 8


ES256 = CoseAlgorithm(-7, ec.SECP256R1(), hashes.SHA256())
ES384 = CoseAlgorithm(-35, ec.SECP384R1(), hashes.SHA384())
ES512 = CoseAlgorithm(-36, ec.SECP521R1(), hashes.SHA512())
ALGORITHMS = {alg.ident: alg for alg in (ES256, ES384, ES512)}


class CoseError(ValueError):
    """A governance request that is not an acceptable COSE Sign1 message; nothing was done with it."""


class MalformedCbor(CoseError):
    """The bytes (or the protected header bytes) are not one well-formed CBOR item."""


class WrongStructure(CoseError):
    """Well-formed CBOR, but not a tagged COSE Sign1 array of the right shape and types."""


class UnknownAlgorithm(CoseError):
    """`alg` is not ES256/ES384/ES512, or does not fit the signer's key."""


class BadHeader(CoseError):
    """A required protected header is missing, of the wrong type, or has an unknown value."""


class BadSignature(CoseError):
    """The signature does not verify with the signer certificate's key."""


@dataclass(frozen=True, slots=True)
class CoseRequest:
    """A parsed governance request; `verify_request` checks its signature against the signer."""

    algorithm: CoseAlgorithm
    kid: str
    msg_type: GovMessageType
    created_at: int
    proposal_id: str | None
    payload: bytes
    protected: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected, self.payload)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 4.4: the bytes that are signed (no external AAD)."""
    return bytes(cbor2.dumps(["Signature1", protected, b"", payload]))


def _decode_one(data: bytes, what: str) -> object:
    """Exactly one CBOR item, with no trailing bytes."""
    stream = io.BytesIO(data)
    try:
        item: object = cbor2.CBORDecoder(stream).decode()
    # cbor2 signals bad input with CBORDecodeError (in its C build not a ValueError), but semantic tag
    # decoders let others through on hostile input (bad dates, bignums, unhashable keys).
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise MalformedCbor(f"{what} is not well-formed CBOR: {exc}") from None
    if item is _BREAK_MARKER:
        raise MalformedCbor(f"{what} is a lone CBOR break code")
    if stream.tell() != len(data):
        raise MalformedCbor(f"{what} has {len(data) - stream.tell()} trailing bytes")
    return item


def parse_request(data: bytes) -> CoseRequest:
    """Parse the structure and CCF's protected headers; the signature is not checked yet."""
    message = _decode_one(data, "the request")
    if not isinstance(message, cbor2.CBORTag) or message.tag != COSE_SIGN1_TAG:
        raise WrongStructure(f"not a COSE Sign1 message (CBOR tag {COSE_SIGN1_TAG})")
    body = message.value
    if not isinstance(body, list) or len(body) != 4:
        raise WrongStructure("COSE Sign1 is an array of 4 items")
    protected, unprotected, payload, signature = body
    if not isinstance(protected, bytes) or not isinstance(unprotected, dict):
        raise WrongStructure("COSE Sign1 headers are a byte string and a map")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise WrongStructure("COSE Sign1 payload and signature are byte strings (no detached payload)")
    headers = _decode_one(protected, "the protected header")
    if not isinstance(headers, dict):
        raise WrongStructure("the protected header is not a map")
    msg_type = _msg_type(headers)
    return CoseRequest(
        algorithm=_algorithm(headers),
        kid=_kid(headers),
        msg_type=msg_type,
        created_at=_created_at(headers),
        proposal_id=_proposal_id(headers, msg_type),
        payload=payload,
        protected=protected,
        signature=signature,
    )


def _algorithm(headers: dict[object, object]) -> CoseAlgorithm:
    if HEADER_ALG not in headers:
        raise BadHeader("missing header alg (1)")
    ident = headers[HEADER_ALG]
    if type(ident) is not int or ident not in ALGORITHMS:
        raise UnknownAlgorithm(f"unsupported alg {ident!r}: expected -7, -35 or -36")
    return ALGORITHMS[ident]


def _kid(headers: dict[object, object]) -> str:
    kid = headers.get(HEADER_KID)
    if not isinstance(kid, bytes):
        raise BadHeader("header kid (4) is missing or not a byte string")
    try:
        text = kid.decode("ascii")
    except UnicodeDecodeError:
        raise BadHeader("header kid (4) is not ASCII hex") from None
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise BadHeader("header kid (4) is not a lowercase hex SHA-256")
    return text


def _msg_type(headers: dict[object, object]) -> GovMessageType:
    value = headers.get(HEADER_MSG_TYPE)
    if not isinstance(value, str):
        raise BadHeader(f"header {HEADER_MSG_TYPE} is missing or not a string")
    try:
        return GovMessageType(value)
    except ValueError:
        raise BadHeader(f"unknown {HEADER_MSG_TYPE} {value!r}") from None


def _created_at(headers: dict[object, object]) -> int:
    value = headers.get(HEADER_CREATED_AT)
    if type(value) is not int or value < 0:
        raise BadHeader(f"header {HEADER_CREATED_AT} is missing or not a non-negative integer")
    return value


def _proposal_id(headers: dict[object, object], msg_type: GovMessageType) -> str | None:
    value = headers.get(HEADER_PROPOSAL_ID)
    if msg_type not in TYPES_WITH_PROPOSAL_ID:
        if value is not None:
            raise BadHeader(f"a {msg_type} carries no {HEADER_PROPOSAL_ID}")
        return None
    if not isinstance(value, str) or not value:
        raise BadHeader(f"a {msg_type} needs header {HEADER_PROPOSAL_ID} (a string)")
    return value


def verify_request(request: CoseRequest, cert: x509.Certificate) -> None:
    """Check `kid` names `cert`, `alg` fits its key, and the raw r||s signature (RFC 9053 2.1)."""
    if request.kid != certificate_fingerprint(cert):
        raise BadHeader("kid does not name the signer certificate")
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != request.algorithm.curve.name:
        raise UnknownAlgorithm(f"alg {request.algorithm.ident} does not fit the signer's key")
    size = request.algorithm.coordinate_size
    if len(request.signature) != 2 * size:
        raise BadSignature(f"signature is {len(request.signature)} bytes, not {2 * size} (raw r||s)")
    r = int.from_bytes(request.signature[:size], "big")
    s = int.from_bytes(request.signature[size:], "big")
    try:
        key.verify(utils.encode_dss_signature(r, s), request.to_be_signed(), ec.ECDSA(request.algorithm.hash))
    except InvalidSignature:
        raise BadSignature("the signature does not verify with the signer's key") from None


def parse_and_verify(data: bytes, cert: x509.Certificate) -> CoseRequest:
    request = parse_request(data)
    verify_request(request, cert)
    return request


def sign_request(
    payload: bytes,
    key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    *,
    msg_type: GovMessageType,
    created_at: int,
    proposal_id: str | None = None,
    deterministic: bool = True,
) -> bytes:
    """A governance request as `ccf_cose_sign1` writes it. `deterministic`: RFC 6979 ECDSA (reproducible,
    for tests and simulations); a member's own tools sign with a random nonce, as `ccf_cose_sign1` does,
    so two requests with the same content in the same second are two requests, not a replay."""
    algorithm = next((a for a in ALGORITHMS.values() if a.curve.name == key.curve.name), None)
    if algorithm is None:
        raise UnknownAlgorithm(f"no COSE algorithm for curve {key.curve.name}")
    if (msg_type in TYPES_WITH_PROPOSAL_ID) != (proposal_id is not None):
        raise ValueError(f"{HEADER_PROPOSAL_ID} is for ballots and withdrawals only, and required there")
    headers: dict[object, object] = {
        HEADER_ALG: algorithm.ident,
        HEADER_KID: certificate_fingerprint(cert).encode("ascii"),
        HEADER_MSG_TYPE: msg_type.value,
        HEADER_CREATED_AT: created_at,
    }
    if proposal_id is not None:
        headers[HEADER_PROPOSAL_ID] = proposal_id
    protected = bytes(cbor2.dumps(headers))
    der = key.sign(
        sig_structure(protected, payload), ec.ECDSA(algorithm.hash, deterministic_signing=deterministic)
    )
    r, s = utils.decode_dss_signature(der)
    size = algorithm.coordinate_size
    signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return bytes(cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature])))
