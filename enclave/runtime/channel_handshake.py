"""The node-to-node key exchange (CCF channels.h): signed ephemeral ECDH, HKDF into two AES-256-GCM keys.

Three messages, like CCF's key_exchange_init / response / final:

1. INIT: the initiator's fresh nonce and ephemeral P-384 key, its node certificate, its signature over
   the message (both node ids, nonce, ephemeral key, certificate).
2. RESPONSE: the responder's nonce and ephemeral key, echoing the initiator's nonce, signed over the INIT
   and the RESPONSE. The initiator's nonce in the signature proves to the initiator that it is fresh.
3. FINISH: the initiator's signature over the whole transcript, which contains the responder's nonce,
   so it proves freshness to the responder: a recorded handshake replayed later cannot complete.

Each side checks that the peer's certificate is endorsed by the expected service certificate, that the
node id it certifies (hex SHA-256 of its public key DER) is the peer this channel expects, and that the
signature verifies with it. Keys: HKDF-SHA256 over the ECDH shared secret, salted with the transcript
digest, gives one 32-byte key per direction and the 16-byte session id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enclave.crypto.certs import (
    CertificateFormatError,
    certificate_public_key,
    is_endorsed_by,
    load_certificate_pem,
)
from enclave.crypto.identity import NodeIdentity
from enclave.crypto.ids import NodeId, node_id_of
from enclave.crypto.keys import (
    CURVE,
    MIN_ENTROPY_BYTES,
    IdentityKey,
    PublicKey,
    identity_key_from_entropy,
    sign_digest,
    verify_digest,
)
from enclave.platform.api import RandomBytes
from enclave.platform.wire import sized
from enclave.runtime.channel_errors import (
    BadHandshakeSignature,
    CertificateNotEndorsed,
    MalformedFrame,
    UnexpectedPeer,
)
from enclave.runtime.channel_wire import (
    NONCE_SIZE,
    SESSION_ID_SIZE,
    HandshakeFinish,
    HandshakeInit,
    HandshakeResponse,
    SessionId,
)

KEY_SCHEDULE_LABEL = b"sealchain node-to-node channel v1"
KEY_SIZE = 32


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """What both ends derive from one completed key exchange."""

    session_id: SessionId
    initiator_to_responder: bytes
    responder_to_initiator: bytes


@dataclass(frozen=True, slots=True)
class EphemeralShare:
    """Our half of one key exchange: a fresh ECDH key and nonce, never used for a second handshake."""

    private_key: IdentityKey
    nonce: bytes

    @classmethod
    def fresh(cls, random_bytes: RandomBytes) -> EphemeralShare:
        nonce = random_bytes(NONCE_SIZE)
        if len(nonce) != NONCE_SIZE:
            raise ValueError(f"the injected randomness returned {len(nonce)} bytes, not {NONCE_SIZE}")
        return cls(identity_key_from_entropy(random_bytes(MIN_ENTROPY_BYTES)), nonce)

    def encoded_public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )


def transcript_digest(*signed_parts: bytes) -> bytes:
    """What a handshake signature signs: SHA-256 over the length-prefixed signed parts so far."""
    return hashlib.sha256(b"".join(sized(part, 4) for part in signed_parts)).digest()


def _certificate_pem(identity: NodeIdentity) -> bytes:
    return identity.cert_pem.encode("ascii")


def make_init(identity: NodeIdentity, peer_id: NodeId, share: EphemeralShare) -> HandshakeInit:
    unsigned = HandshakeInit(
        sender=identity.node_id,
        receiver=peer_id,
        nonce=share.nonce,
        ephemeral_key=share.encoded_public_key(),
        certificate_pem=_certificate_pem(identity),
        signature=b"",
    )
    signature = sign_digest(identity.key, transcript_digest(unsigned.signed_part()))
    return replace(unsigned, signature=signature)


def make_response(identity: NodeIdentity, init: HandshakeInit, share: EphemeralShare) -> HandshakeResponse:
    unsigned = HandshakeResponse(
        sender=identity.node_id,
        receiver=init.sender,
        initiator_nonce=init.nonce,
        nonce=share.nonce,
        ephemeral_key=share.encoded_public_key(),
        certificate_pem=_certificate_pem(identity),
        signature=b"",
    )
    digest = transcript_digest(init.signed_part(), unsigned.signed_part())
    return replace(unsigned, signature=sign_digest(identity.key, digest))


def make_finish(
    identity: NodeIdentity, init: HandshakeInit, response: HandshakeResponse, session_id: SessionId
) -> HandshakeFinish:
    unsigned = HandshakeFinish(identity.node_id, response.sender, session_id, b"")
    digest = transcript_digest(init.signed_part(), response.signed_part(), unsigned.signed_part())
    return replace(unsigned, signature=sign_digest(identity.key, digest))


def authenticate_peer(
    frame: HandshakeInit | HandshakeResponse,
    *,
    self_id: NodeId,
    peer_id: NodeId,
    service_cert: x509.Certificate,
) -> PublicKey:
    """The peer's identity key, once its certificate is endorsed by our service and names the expected
    peer, and the frame is addressed from that peer to us. The signature is checked by the caller."""
    if frame.receiver != self_id:
        raise UnexpectedPeer(f"the handshake is addressed to {frame.receiver}, not to this node")
    if frame.sender != peer_id:
        raise UnexpectedPeer(f"the handshake is from {frame.sender}, this channel expects {peer_id}")
    try:
        cert = load_certificate_pem(frame.certificate_pem)
        peer_key = certificate_public_key(cert)
    except CertificateFormatError as exc:
        raise MalformedFrame(f"the handshake certificate is unreadable: {exc}") from None
    if not is_endorsed_by(cert, service_cert):
        raise CertificateNotEndorsed("the peer's node certificate is not endorsed by this service")
    certified_id = node_id_of(peer_key)
    if certified_id != peer_id:
        raise UnexpectedPeer(f"the certificate is node {certified_id}'s, not {peer_id}'s")
    return peer_key


def _check_signature(peer_key: PublicKey, digest: bytes, signature: bytes) -> None:
    if not verify_digest(peer_key, digest, signature):
        raise BadHandshakeSignature("the handshake signature does not verify with the peer's certificate")


def check_init_signature(peer_key: PublicKey, init: HandshakeInit) -> None:
    _check_signature(peer_key, transcript_digest(init.signed_part()), init.signature)


def check_response_signature(peer_key: PublicKey, init: HandshakeInit, response: HandshakeResponse) -> None:
    digest = transcript_digest(init.signed_part(), response.signed_part())
    _check_signature(peer_key, digest, response.signature)


def check_finish_signature(
    peer_key: PublicKey, init: HandshakeInit, response: HandshakeResponse, finish: HandshakeFinish
) -> None:
    digest = transcript_digest(init.signed_part(), response.signed_part(), finish.signed_part())
    _check_signature(peer_key, digest, finish.signature)


def decode_ephemeral_key(encoded: bytes) -> PublicKey:
    """The peer's ephemeral ECDH key; a point that is not on P-384 is a malformed frame."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVE, encoded)
    except ValueError:
        raise MalformedFrame("the ephemeral key is not a P-384 point") from None


def derive_session_keys(
    own: EphemeralShare, peer_ephemeral_key: PublicKey, init: HandshakeInit, response: HandshakeResponse
) -> SessionKeys:
    """HKDF-SHA256(ECDH shared secret, salt = transcript digest) into two direction keys and a session id."""
    shared_secret = own.private_key.exchange(ec.ECDH(), peer_ephemeral_key)
    material = HKDF(
        algorithm=hashes.SHA256(),
        length=2 * KEY_SIZE + SESSION_ID_SIZE,
        salt=transcript_digest(init.signed_part(), response.signed_part()),
        info=KEY_SCHEDULE_LABEL,
    ).derive(shared_secret)
    return SessionKeys(
        session_id=SessionId(material[2 * KEY_SIZE :]),
        initiator_to_responder=material[:KEY_SIZE],
        responder_to_initiator=material[KEY_SIZE : 2 * KEY_SIZE],
    )
