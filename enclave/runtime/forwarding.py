"""Forwarding between a follower and the primary, and answering whoever asked (DESIGN.md section 5).

A follower that cannot serve a request (a write, a linearizable read, a join) forwards it over the sealed
channel to the primary and remembers who asked; the primary answers over the same channel; the follower
answers its client or joiner. An answer that does not come within `timeout_ticks` ticks (the primary
changed, or the frames were lost) becomes a retryable error: the request may or may not have executed.

Calls and their answers wait for the end of the input that made them (`flush`, at the end of every drain)
and go to each peer in one frame (DESIGN.md section 9): a follower forwards a batch of client requests,
and the primary answers the writes one commit completed, one frame per follower. Joins go at once.

Forward ids never repeat across restarts: the primary may answer a forward long after it was made (when
the write commits), and a restarted node that counted from zero again would take that answer for one of
its new forwards and tell a client another transaction's id. Each run of the node therefore counts from
a random 62-bit start (from the injected randomness).
"""

from __future__ import annotations

from dataclasses import dataclass

from enclave.crypto.ids import NodeId
from enclave.platform.api import RandomBytes
from enclave.runtime import join_wire, peer_wire
from enclave.runtime import messages as m
from enclave.runtime.peer_wire import (
    ForwardBatch,
    ForwardCall,
    ForwardedJoinResponse,
    ForwardedResult,
    ForwardJoin,
    PayloadKind,
)
from enclave.runtime.peers import Peers
from enclave.runtime.replies import Forwarded, LocalClient, LocalJoin, ReplyTo

NO_PRIMARY = "no primary known; retry"


@dataclass(slots=True)
class _PendingForward:
    reply_to: ReplyTo  # LocalClient or LocalJoin
    age: int = 0


def pending_join(reason: str) -> bytes:
    return join_wire.encode(join_wire.JoinPending(reason))


class Forwarder:
    __slots__ = ("_next_id", "_outgoing", "_peers", "_pending", "_timeout_ticks")

    def __init__(self, peers: Peers, timeout_ticks: int, random_bytes: RandomBytes) -> None:
        self._peers = peers
        self._timeout_ticks = timeout_ticks
        self._pending: dict[int, _PendingForward] = {}
        # Calls and answers to send at the next `flush`, by peer, in order.
        self._outgoing: dict[NodeId, list[ForwardCall | ForwardedResult]] = {}
        self._next_id = int.from_bytes(random_bytes(8), "big") >> 2

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def forward_call(
        self, leader: NodeId | None, reply_to: ReplyTo, caller_cert_der: bytes, call: m.ClientCall
    ) -> list[m.Effect]:
        """`leader` None: none known (or the request was already forwarded once): a retryable error."""
        if leader is None or isinstance(reply_to, Forwarded):
            return self.reply(reply_to, m.CallError(m.ErrorCode.NO_PRIMARY, NO_PRIMARY))
        self._outgoing.setdefault(leader, []).append(
            ForwardCall(self._remember(reply_to), caller_cert_der, call)
        )
        return []

    def forward_join(self, leader: NodeId | None, reply_to: ReplyTo, request: bytes) -> list[m.Effect]:
        if leader is None or isinstance(reply_to, Forwarded):
            return self.reply_join(reply_to, pending_join(NO_PRIMARY))
        return self._send(leader, ForwardJoin(self._remember(reply_to), request))

    def answered(self, answer: ForwardedResult | ForwardedJoinResponse) -> list[m.Effect]:
        """The primary's answer to something we forwarded (ignored if it came too late)."""
        pending = self._pending.pop(answer.forward_id, None)
        if pending is None:
            return []
        if isinstance(answer, ForwardedResult):
            return self.reply(pending.reply_to, answer.result)
        return self.reply_join(pending.reply_to, answer.response)

    def reply(self, reply_to: ReplyTo, result: m.CallResult) -> list[m.Effect]:
        match reply_to:
            case LocalClient():
                return [m.RespondToClient(reply_to.request_id, result)]
            case Forwarded():
                self._outgoing.setdefault(reply_to.peer, []).append(
                    ForwardedResult(reply_to.forward_id, result)
                )
                return []
            case LocalJoin():
                raise AssertionError("a join request answered with a call result")

    def reply_join(self, reply_to: ReplyTo, response: bytes) -> list[m.Effect]:
        match reply_to:
            case LocalJoin():
                return [m.RespondToJoin(reply_to.request_id, response)]
            case Forwarded():
                return self._send(reply_to.peer, ForwardedJoinResponse(reply_to.forward_id, response))
            case LocalClient():
                raise AssertionError("a client call answered with a join response")

    def expire(self) -> list[m.Effect]:
        effects: list[m.Effect] = []
        for forward_id, pending in list(self._pending.items()):
            pending.age += 1
            if pending.age < self._timeout_ticks:
                continue
            del self._pending[forward_id]
            reason = "the primary did not answer: the request may or may not have been executed"
            if isinstance(pending.reply_to, LocalJoin):
                effects += self.reply_join(pending.reply_to, pending_join(reason))
            else:
                error = m.CallError(m.ErrorCode.OUTCOME_UNKNOWN, reason)
                effects += self.reply(pending.reply_to, error)
        return effects

    def flush(self) -> list[m.Effect]:
        """The calls and answers queued since the last flush: one frame per peer."""
        effects: list[m.Effect] = []
        for peer, messages in self._outgoing.items():
            effects += self._send(peer, messages[0] if len(messages) == 1 else ForwardBatch(tuple(messages)))
        self._outgoing.clear()
        return effects

    def _remember(self, reply_to: ReplyTo) -> int:
        forward_id = self.new_id()
        self._pending[forward_id] = _PendingForward(reply_to)
        return forward_id

    def _send(self, peer: NodeId, message: peer_wire.ForwardMessage) -> list[m.Effect]:
        return self._peers.send(peer, PayloadKind.FORWARD, peer_wire.encode(message))
