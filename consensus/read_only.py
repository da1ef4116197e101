"""Read-index (Raft dissertation 6.4; etcd read_only.go, ReadOnlySafe).

A read asked at time t is answered with the commit index at t once a majority of voters has
answered a heartbeat sent after t: then no other leader could have committed anything newer. Each
request opens a numbered round; a heartbeat response confirming round r confirms every round <= r.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from consensus.quorum import has_quorum
from consensus.types import Index, NodeId


@dataclass(frozen=True, slots=True)
class PendingRead:
    round: int
    index: Index
    requester: NodeId
    context: bytes


class ReadOnly:
    def __init__(self) -> None:
        self.last_round = 0
        self._pending: deque[PendingRead] = deque()
        self._acked_round: dict[NodeId, int] = {}

    def add_request(self, index: Index, requester: NodeId, context: bytes) -> int:
        """Queue a read at commit index `index`; returns the round a heartbeat must confirm."""
        self.last_round += 1
        self._pending.append(PendingRead(self.last_round, index, requester, context))
        return self.last_round

    def confirm(self, node: NodeId, round_: int, voters: frozenset[NodeId]) -> list[PendingRead]:
        """`node` answered a heartbeat of round `round_`; returns the reads a majority now confirms."""
        if round_ > self._acked_round.get(node, 0):
            self._acked_round[node] = round_
        released: list[PendingRead] = []
        while self._pending:
            read = self._pending[0]
            confirmed = {voter for voter, acked in self._acked_round.items() if acked >= read.round}
            if not has_quorum(voters, confirmed):
                break
            released.append(self._pending.popleft())
        return released
