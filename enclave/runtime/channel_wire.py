"""The node-to-node channel wire format: versioned, big-endian, one canonical encoding per frame.

Every frame starts with `version: u8, kind: u8`. Node ids travel as their 32 raw bytes (the hex id is
SHA-256 of the identity public key DER), variable fields as a length then bytes, and decoding rejects
short reads, unknown kinds and trailing bytes, so what is signed or authenticated has exactly one encoding.

    INIT           sender, receiver, nonce(32), ephemeral key(97), certificate(u16+PEM), signature(u16+DER)
    RESPONSE       sender, receiver, initiator nonce(32), nonce(32), ephemeral key(97), certificate, signature
    FINISH         sender, receiver, session id(16), signature
    SEALED         session id(16), counter(u64), header(u32 + bytes), ciphertext(u32 + bytes), tag(16)
    AUTHENTICATED  session id(16), counter(u64), header(u32 + bytes), payload(u32 + bytes), tag(16)

A handshake signature covers the frame's encoding up to the signature (`signed_part`); a data frame's tag
authenticates the encoding up to its body as AAD, and an authenticated frame's payload too (`aad`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NewType, assert_never

from enclave.crypto.ids import NodeId
from enclave.platform.wire import StrictReader, sized
from enclave.runtime.channel_errors import MalformedFrame, UnsupportedVersion

PROTOCOL_VERSION = 1
NODE_ID_SIZE = 32
NONCE_SIZE = 32
SESSION_ID_SIZE = 16
# An uncompressed X9.62 P-384 point: 0x04, then x and y of 48 bytes each.
EPHEMERAL_KEY_SIZE = 97
COUNTER_SIZE = 8
TAG_SIZE = 16
_HANDSHAKE_FIELD_LENGTH = 2
_DATA_FIELD_LENGTH = 4

SessionId = NewType("SessionId", bytes)


class FrameKind(IntEnum):
    INIT = 1
    RESPONSE = 2
    FINISH = 3
    SEALED = 4
    AUTHENTICATED = 5


def _node_id_bytes(node_id: NodeId) -> bytes:
    raw = bytes.fromhex(node_id)
    if len(raw) != NODE_ID_SIZE:
        raise ValueError(f"a node id is {NODE_ID_SIZE} bytes, got {len(raw)}")
    return raw


def _prefix(kind: FrameKind) -> bytes:
    return bytes([PROTOCOL_VERSION, kind])


class _SignedFrame:
    """A handshake frame: its signed part, then the signature over the transcript up to it."""

    __slots__ = ()
    signature: bytes

    def signed_part(self) -> bytes:
        raise NotImplementedError

    def encode(self) -> bytes:
        return self.signed_part() + sized(self.signature, _HANDSHAKE_FIELD_LENGTH)


@dataclass(frozen=True, slots=True)
class HandshakeInit(_SignedFrame):
    """Key exchange, message 1 (initiator to responder)."""

    sender: NodeId
    receiver: NodeId
    nonce: bytes
    ephemeral_key: bytes
    certificate_pem: bytes
    signature: bytes

    def signed_part(self) -> bytes:
        return b"".join(
            [
                _prefix(FrameKind.INIT),
                _node_id_bytes(self.sender),
                _node_id_bytes(self.receiver),
                self.nonce,
                self.ephemeral_key,
                sized(self.certificate_pem, _HANDSHAKE_FIELD_LENGTH),
            ]
        )


@dataclass(frozen=True, slots=True)
class HandshakeResponse(_SignedFrame):
    """Key exchange, message 2 (responder to initiator): echoes the initiator's nonce it answers."""

    sender: NodeId
    receiver: NodeId
    initiator_nonce: bytes
    nonce: bytes
    ephemeral_key: bytes
    certificate_pem: bytes
    signature: bytes

    def signed_part(self) -> bytes:
        return b"".join(
            [
                _prefix(FrameKind.RESPONSE),
                _node_id_bytes(self.sender),
                _node_id_bytes(self.receiver),
                self.initiator_nonce,
                self.nonce,
                self.ephemeral_key,
                sized(self.certificate_pem, _HANDSHAKE_FIELD_LENGTH),
            ]
        )


@dataclass(frozen=True, slots=True)
class HandshakeFinish(_SignedFrame):
    """Key exchange, message 3 (initiator to responder): names the session the responder may now open."""

    sender: NodeId
    receiver: NodeId
    session_id: SessionId
    signature: bytes

    def signed_part(self) -> bytes:
        return b"".join(
            [
                _prefix(FrameKind.FINISH),
                _node_id_bytes(self.sender),
                _node_id_bytes(self.receiver),
                self.session_id,
            ]
        )


@dataclass(frozen=True, slots=True)
class DataFrame:
    """A sealed frame (body = ciphertext) or an authenticated one (body = payload in the clear)."""

    kind: FrameKind
    session_id: SessionId
    counter: int
    header: bytes
    body: bytes
    tag: bytes

    def _before_body(self) -> bytes:
        return b"".join(
            [
                _prefix(self.kind),
                self.session_id,
                self.counter.to_bytes(COUNTER_SIZE, "big"),
                sized(self.header, _DATA_FIELD_LENGTH),
            ]
        )

    def aad(self) -> bytes:
        """What the GCM tag authenticates besides the ciphertext: everything but the tag."""
        if self.kind is FrameKind.SEALED:
            return self._before_body()
        return self._before_body() + sized(self.body, _DATA_FIELD_LENGTH)

    def encode(self) -> bytes:
        return self._before_body() + sized(self.body, _DATA_FIELD_LENGTH) + self.tag


Frame = HandshakeInit | HandshakeResponse | HandshakeFinish | DataFrame


def _node_id(reader: StrictReader, what: str) -> NodeId:
    return NodeId(reader.take(NODE_ID_SIZE, what).hex())


def decode_frame(data: bytes) -> Frame:
    """Parses one frame; anything but the canonical encoding of a known frame is a `ChannelError`."""
    reader = StrictReader(data, MalformedFrame)
    version = reader.uint(1, "version")
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"channel protocol version {version}, not {PROTOCOL_VERSION}")
    kind_value = reader.uint(1, "kind")
    try:
        kind = FrameKind(kind_value)
    except ValueError:
        raise MalformedFrame(f"unknown frame kind {kind_value}") from None
    frame: Frame
    match kind:
        case FrameKind.INIT:
            frame = HandshakeInit(
                sender=_node_id(reader, "sender"),
                receiver=_node_id(reader, "receiver"),
                nonce=reader.take(NONCE_SIZE, "nonce"),
                ephemeral_key=reader.take(EPHEMERAL_KEY_SIZE, "ephemeral key"),
                certificate_pem=reader.sized(_HANDSHAKE_FIELD_LENGTH, "certificate"),
                signature=reader.sized(_HANDSHAKE_FIELD_LENGTH, "signature"),
            )
        case FrameKind.RESPONSE:
            frame = HandshakeResponse(
                sender=_node_id(reader, "sender"),
                receiver=_node_id(reader, "receiver"),
                initiator_nonce=reader.take(NONCE_SIZE, "initiator nonce"),
                nonce=reader.take(NONCE_SIZE, "nonce"),
                ephemeral_key=reader.take(EPHEMERAL_KEY_SIZE, "ephemeral key"),
                certificate_pem=reader.sized(_HANDSHAKE_FIELD_LENGTH, "certificate"),
                signature=reader.sized(_HANDSHAKE_FIELD_LENGTH, "signature"),
            )
        case FrameKind.FINISH:
            frame = HandshakeFinish(
                sender=_node_id(reader, "sender"),
                receiver=_node_id(reader, "receiver"),
                session_id=SessionId(reader.take(SESSION_ID_SIZE, "session id")),
                signature=reader.sized(_HANDSHAKE_FIELD_LENGTH, "signature"),
            )
        case FrameKind.SEALED | FrameKind.AUTHENTICATED:
            frame = DataFrame(
                kind=kind,
                session_id=SessionId(reader.take(SESSION_ID_SIZE, "session id")),
                counter=reader.uint(COUNTER_SIZE, "counter"),
                header=reader.sized(_DATA_FIELD_LENGTH, "header"),
                body=reader.sized(_DATA_FIELD_LENGTH, "body"),
                tag=reader.take(TAG_SIZE, "tag"),
            )
        case _:
            assert_never(kind)
    reader.finish()
    return frame
