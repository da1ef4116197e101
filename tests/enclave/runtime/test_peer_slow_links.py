"""Channels over a link slower than the handshake retry (enclave/runtime/peers.py): retries back off, and
answering the peer's INIT restarts the wait, so a session is established however slow the link."""

from __future__ import annotations

import random
from collections import deque

import pytest

from enclave.crypto.identity import NodeIdentity
from enclave.crypto.ids import NodeId
from enclave.runtime import messages as m
from enclave.runtime.errors import PeerRejected
from enclave.runtime.peer_wire import PayloadKind
from enclave.runtime.peers import Peers
from tests.enclave.runtime.channel_world import world

RETRY_TICKS = 5


def peers_of(me: NodeIdentity, seed: int) -> Peers:
    return Peers(me, world().service.cert, random.Random(seed).randbytes, RETRY_TICKS)


@pytest.mark.parametrize("delay_ticks", [1, 2 * RETRY_TICKS, 3 * RETRY_TICKS + 2, 6 * RETRY_TICKS])
@pytest.mark.parametrize("slow_side", ["low", "high"])
def test_a_session_is_established_over_a_link_slower_than_the_retry(delay_ticks: int, slow_side: str) -> None:
    """Frames *to* one node take `delay_ticks` ticks (a one-way slow link); both nodes want to talk."""
    low, high = world().low, world().high
    ends = {low.node_id: peers_of(low, 1), high.node_id: peers_of(high, 2)}
    slow = low.node_id if slow_side == "low" else high.node_id
    in_flight: deque[tuple[int, str, str, bytes]] = deque()  # (due tick, sender, receiver, frame)
    established: set[str] = set()

    def carry(now: int, sender: str, effects: list[m.Effect]) -> None:
        for effect in effects:
            if isinstance(effect, m.SendToPeer):
                due = now + (delay_ticks if effect.node_id == slow else 1)
                in_flight.append((due, sender, effect.node_id, effect.frame))

    for one, other in ((low, high), (high, low)):
        carry(0, one.node_id, ends[one.node_id].send(other.node_id, PayloadKind.RAFT, b"hello"))
    for now in range(1, 400):
        for due, sender, receiver, frame in sorted(in_flight):
            if due == now:
                in_flight.remove((due, sender, receiver, frame))
                try:
                    effects, received = ends[NodeId(receiver)].receive(sender, frame)
                except PeerRejected:
                    continue  # the enclave drops a refused frame (a stale handshake) and goes on
                carry(now, receiver, effects)
                if any(item.payload == b"hello" for item in received):
                    established.add(receiver)
        for node_id, end in ends.items():
            carry(now, node_id, end.tick())
        if len(established) == 2:
            return
    raise AssertionError(f"no session over a {delay_ticks}-tick link after 400 ticks: {established}")
