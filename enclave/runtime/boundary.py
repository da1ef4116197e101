"""The byte boundary between host and enclave, as with a real ECALL: msgpack in, msgpack out.

Wire format, version 1 (one canonical encoding per message; see wire_codec.py for the field rules):

    input   = [VERSION, message]
    effects = [VERSION, [message, ...]]
    message = [type tag, field 1, field 2, ...]     fields in declaration order (messages.py)

Decoding is strict: anything that is not a well-formed message of this version is a `MalformedMessage`,
a well-formed envelope of another version an `UnsupportedBoundaryVersion`. Both are the host's fault (it
sent bytes the enclave never accepts), so `EnclaveBoundary.handle` raises them before the enclave sees
anything, and the enclave's state is unchanged.
"""

from __future__ import annotations

from typing import Any, Final, Protocol, cast, get_args

from enclave.kv.state_sealing import SealedBatch, StoredDeletion, StoredRecord
from enclave.runtime import messages as m
from enclave.runtime.wire_codec import MessageCodec, pack

BOUNDARY_VERSION: Final = 1


class BoundaryError(ValueError):
    """Bytes that cannot cross the boundary."""


class MalformedMessage(BoundaryError):
    """Not a well-formed message of the current version (garbage, truncated, wrong types, unknown tag)."""


class UnsupportedBoundaryVersion(BoundaryError):
    """A well-formed envelope of another boundary version."""


def _messages_of(union: object) -> tuple[type[Any], ...]:
    return tuple(get_args(union))


INPUT_TYPES: Final = _messages_of(m.HostInput)
EFFECT_TYPES: Final = _messages_of(m.Effect)
_NESTED_TYPES: Final = (
    m.NodeAddresses,
    m.ConsensusSettings,
    m.MemberInfo,
    m.TxRef,
    m.KeyValue,
    m.PeerAddress,
    m.RaftHardState,
    SealedBatch,
    StoredRecord,
    StoredDeletion,
    *_messages_of(m.ClientCall),
    *_messages_of(m.CallResult),
)
_CODEC: Final = MessageCodec((*INPUT_TYPES, *EFFECT_TYPES, *_NESTED_TYPES), MalformedMessage)


def encode_input(message: m.HostInput) -> bytes:
    return pack([BOUNDARY_VERSION, _CODEC.encode(message)])


def encode_effects(effects: list[m.Effect]) -> bytes:
    return pack([BOUNDARY_VERSION, [_CODEC.encode(effect) for effect in effects]])


def _unpack_envelope(data: bytes) -> object:
    """The body of `[VERSION, body]`, after checking the version."""
    envelope = _CODEC.unpack(data)
    if not isinstance(envelope, list) or len(envelope) != 2 or type(envelope[0]) is not int:
        raise MalformedMessage("expected [version, body]")
    if envelope[0] != BOUNDARY_VERSION:
        raise UnsupportedBoundaryVersion(f"boundary version {envelope[0]}, not {BOUNDARY_VERSION}")
    return envelope[1]


def decode_input(data: bytes) -> m.HostInput:
    """The input in `data`; raises `MalformedMessage` or `UnsupportedBoundaryVersion`."""
    return cast(m.HostInput, _CODEC.decode(_unpack_envelope(data), INPUT_TYPES, "input"))


def decode_effects(data: bytes) -> list[m.Effect]:
    """The effects in `data`; raises `MalformedMessage` or `UnsupportedBoundaryVersion`."""
    body = _unpack_envelope(data)
    if not isinstance(body, list):
        raise MalformedMessage("effects: expected an array")
    return [cast(m.Effect, _CODEC.decode(raw, EFFECT_TYPES, f"effects[{i}]")) for i, raw in enumerate(body)]


class HandlesInputs(Protocol):
    """What the boundary drives: `Enclave.handle`, the typed core."""

    def handle(self, message: m.HostInput) -> list[m.Effect]: ...


class EnclaveBoundary:
    """What the host calls: one ECALL-like entry point, bytes in, bytes out (DESIGN.md section 3)."""

    __slots__ = ("_enclave",)

    def __init__(self, enclave: HandlesInputs) -> None:
        self._enclave = enclave

    def handle(self, input_bytes: bytes) -> bytes:
        """Decode one input, let the enclave handle it, encode its effects. Malformed input raises a
        `BoundaryError` before the enclave sees anything."""
        return encode_effects(self._enclave.handle(decode_input(input_bytes)))
