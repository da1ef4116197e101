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


# What a governance request did (proposal id, proposal state, JSON body), told once it commits.
GovernanceOutcome = tuple[str | None, str | None, str]
# What a write returned: nothing (put, delete), a governance outcome, or a procedure's msgpack result.
WriteOutcome = GovernanceOutcome | bytes | None


@dataclass(frozen=True, slots=True)
class CommitWaiter:
    """A write, governance request or join record answered once its transaction commits, or is known
    Invalid."""

    reply_to: ReplyTo
    txid: m.TxRef
    join_response: bytes | None = None  # for a join: the answer once committed (None: a client write)
    outcome: WriteOutcome = None

    def result(self, status: m.TxStatus) -> m.CallResult:
        """The answer to a client write, procedure or governance request, with its status now."""
        if isinstance(self.outcome, bytes):
            return m.ProcedureResult(self.txid, status, self.outcome)
        if self.outcome is None:
            return m.WriteResult(self.txid, status)
        return m.GovernanceResult(self.txid, status, *self.outcome)
