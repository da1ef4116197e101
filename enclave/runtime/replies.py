"""Where an answer goes: to a local client or joiner (an effect for the host), or back over the channel
to the follower that forwarded the request (DESIGN.md section 5, forwarding)."""

from __future__ import annotations

from dataclasses import dataclass

from enclave.crypto.ids import NodeId
from enclave.runtime import messages as m


@dataclass(frozen=True, slots=True)
class LocalClient:
    request_id: int


@dataclass(frozen=True, slots=True)
class LocalJoin:
    request_id: int


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A request a follower forwarded to us (a call or a join: the call site knows which)."""

    peer: NodeId
    forward_id: int


ReplyTo = LocalClient | LocalJoin | Forwarded


@dataclass(frozen=True, slots=True)
class CommitWaiter:
    """A write (or a join record) answered once its transaction commits, or is known Invalid."""

    reply_to: ReplyTo
    txid: m.TxRef
    join_response: bytes | None = None  # for a join: the answer once committed (None: a client write)
