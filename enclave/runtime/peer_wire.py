"""What nodes say to each other inside their channels (channels.py), versioned.

A channel frame has a header and a payload. The header is `PEER_WIRE_VERSION` and a kind byte:
- `RAFT`: a Raft message, sent *authenticated* (integrity without encryption; CCF: consensus headers are
  authenticated, and the ledger entries they carry are already encrypted with the ledger secret);
- `FORWARD`: forwarding between a follower and the primary (client calls, join requests, and their
  answers), sent *sealed*: client calls carry private values.
The payload is the message in the strict msgpack encoding of wire_codec.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, cast, get_args

from consensus import ConfChange, Configuration, Entry, Index, Snapshot, Term
from consensus import NodeId as RaftNodeId
from consensus.messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from enclave.runtime import messages as m
from enclave.runtime.errors import MalformedPeerPayload
from enclave.runtime.wire_codec import MessageCodec, pack

PEER_WIRE_VERSION: Final = 1


class PayloadKind(IntEnum):
    RAFT = 1
    FORWARD = 2


@dataclass(frozen=True, slots=True)
class ForwardCall:
    """A follower forwards a user's call to the primary (DESIGN.md section 5); the primary checks the
    caller itself."""

    forward_id: int
    caller_cert_der: bytes
    call: m.ClientCall


@dataclass(frozen=True, slots=True)
class ForwardedResult:
    forward_id: int
    result: m.CallResult


@dataclass(frozen=True, slots=True)
class ForwardJoin:
    """A follower forwards a join request to the primary."""

    forward_id: int
    request: bytes


@dataclass(frozen=True, slots=True)
class ForwardedJoinResponse:
    forward_id: int
    response: bytes


@dataclass(frozen=True, slots=True)
class ForwardBatch:
    """The calls a follower forwards, or the answers the primary sends back, in one enclave input: one
    frame for all of them (DESIGN.md section 9)."""

    messages: tuple[ForwardCall | ForwardedResult, ...]


OneForward = ForwardCall | ForwardedResult | ForwardJoin | ForwardedJoinResponse
ForwardMessage = OneForward | ForwardBatch


@dataclass(frozen=True, slots=True)
class SnapshotOffer:
    """InstallSnapshot on the wire (the codec has no sets): the snapshot file is `data`."""

    src: str
    dst: str
    term: int
    index: int
    snapshot_term: int
    voters: tuple[str, ...]
    learners: tuple[str, ...]
    data: bytes

    @classmethod
    def of(cls, message: InstallSnapshot) -> SnapshotOffer:
        snapshot = message.snapshot
        configuration = snapshot.configuration
        return cls(
            message.src,
            message.dst,
            message.term,
            snapshot.index,
            snapshot.term,
            tuple(sorted(configuration.voters)),
            tuple(sorted(configuration.learners)),
            snapshot.data,
        )

    def message(self) -> InstallSnapshot:
        configuration = Configuration(
            frozenset(map(RaftNodeId, self.voters)), frozenset(map(RaftNodeId, self.learners))
        )
        snapshot = Snapshot(Index(self.index), Term(self.snapshot_term), configuration, self.data)
        return InstallSnapshot(RaftNodeId(self.src), RaftNodeId(self.dst), Term(self.term), snapshot)


RAFT_TYPES: Final = (
    VoteRequest,
    VoteResponse,
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    TimeoutNow,
    ReadIndexRequest,
    ReadIndexResponse,
    SnapshotOffer,
)
FORWARD_TYPES: Final[tuple[type[Any], ...]] = get_args(ForwardMessage)
_CODEC: Final = MessageCodec(
    (
        *RAFT_TYPES,
        Entry,
        ConfChange,
        *FORWARD_TYPES,
        *get_args(m.ClientCall),
        *get_args(m.CallResult),
        m.TxRef,
        m.KeyValue,
    ),
    MalformedPeerPayload,
)


def header(kind: PayloadKind) -> bytes:
    return bytes([PEER_WIRE_VERSION, kind])


def encode(message: Message | ForwardMessage) -> bytes:
    if isinstance(message, InstallSnapshot):
        return pack(_CODEC.encode(SnapshotOffer.of(message)))
    return pack(_CODEC.encode(message))


def read_header(data: bytes) -> PayloadKind:
    if len(data) != 2 or data[0] != PEER_WIRE_VERSION:
        raise MalformedPeerPayload(f"peer header {data.hex()}: not version {PEER_WIRE_VERSION}")
    try:
        return PayloadKind(data[1])
    except ValueError:
        raise MalformedPeerPayload(f"unknown peer payload kind {data[1]}") from None


def decode_raft(data: bytes) -> Message:
    message = _CODEC.decode(_CODEC.unpack(data), RAFT_TYPES, "raft")
    if isinstance(message, SnapshotOffer):
        return message.message()
    return cast(Message, message)


def decode_forward(data: bytes) -> ForwardMessage:
    return cast(ForwardMessage, _CODEC.decode(_CODEC.unpack(data), FORWARD_TYPES, "forward"))
