"""The join protocol's messages (DESIGN.md section 4.3), versioned, in the strict msgpack encoding.

    request  = [JOIN_WIRE_VERSION, JoinRequest]
    response = [JOIN_WIRE_VERSION, JoinAccepted | JoinPending | JoinRejected]

The joiner signs its request with its identity key (proof of possession; the evidence binds the same key
through its report data). The accepted response carries the responder's evidence (report data bound to
its identity key and to the joiner's nonce, so it is fresh), the service certificate, the responder's and
the joiner's endorsed certificates, and the ledger secrets and service key encrypted to the joiner's
identity key (join_crypto.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, cast

from enclave.runtime.errors import MalformedJoinMessage
from enclave.runtime.node_secrets import LedgerSecretVersion
from enclave.runtime.wire_codec import MessageCodec, pack

JOIN_WIRE_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class JoinRequest:
    identity_public_key_der: bytes
    evidence: bytes
    peer_address: str
    client_address: str
    nonce: bytes
    signature: bytes  # by the identity key, over `signed_digest()`

    def signed_digest(self) -> bytes:
        body = [
            self.identity_public_key_der,
            self.evidence,
            self.peer_address,
            self.client_address,
            self.nonce,
        ]
        return hashlib.sha256(b"sealchain join request v1\0" + pack(body)).digest()


@dataclass(frozen=True, slots=True)
class JoinAccepted:
    responder_public_key_der: bytes
    responder_evidence: bytes
    responder_cert_pem: str
    responder_peer_address: str
    service_cert_pem: str
    node_cert_pem: str  # the joiner's, endorsed by the service
    genesis_node_id: str
    ephemeral_public_key_der: bytes
    encrypted_secrets: bytes


@dataclass(frozen=True, slots=True)
class JoinPending:
    """Recorded, not trusted yet (or not committed yet): ask again later."""

    reason: str


@dataclass(frozen=True, slots=True)
class JoinRejected:
    reason: str


JoinResponse = JoinAccepted | JoinPending | JoinRejected


@dataclass(frozen=True, slots=True)
class TransferredSecrets:
    """What the joiner receives encrypted: the service key and the ledger secrets."""

    service_key_pem: str
    ledger_secrets: tuple[LedgerSecretVersion, ...]


_CODEC: Final = MessageCodec(
    (JoinRequest, JoinAccepted, JoinPending, JoinRejected, TransferredSecrets, LedgerSecretVersion),
    MalformedJoinMessage,
)


def encode(message: JoinRequest | JoinResponse | TransferredSecrets) -> bytes:
    return pack([JOIN_WIRE_VERSION, _CODEC.encode(message)])


def _body(data: bytes) -> object:
    envelope = _CODEC.unpack(data)
    if not isinstance(envelope, list) or len(envelope) != 2 or envelope[0] != JOIN_WIRE_VERSION:
        raise MalformedJoinMessage(f"not a join message of version {JOIN_WIRE_VERSION}")
    return envelope[1]


def decode_request(data: bytes) -> JoinRequest:
    return cast(JoinRequest, _CODEC.decode(_body(data), (JoinRequest,), "join request"))


def decode_response(data: bytes) -> JoinResponse:
    return cast(
        JoinResponse, _CODEC.decode(_body(data), (JoinAccepted, JoinPending, JoinRejected), "join response")
    )


def decode_secrets(data: bytes) -> TransferredSecrets:
    return cast(TransferredSecrets, _CODEC.decode(_body(data), (TransferredSecrets,), "secrets"))
