"""A service with three endorsed nodes, a second service, and helpers that carry frames between channels."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import settings

from enclave.crypto.identity import NodeIdentity, ServiceIdentity
from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy
from enclave.runtime.channels import Channel, ChannelEvent, SendToPeer

NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2027, 1, 1, tzinfo=UTC)

# Each example runs a handshake (several P-384 signatures): no per-example deadline on a shared machine.
HANDSHAKE_EXAMPLES = settings(deadline=None)


@dataclass(frozen=True)
class World:
    service: ServiceIdentity
    low: NodeIdentity  # of the two honest nodes, the one with the lower node id
    high: NodeIdentity
    mallory: NodeIdentity  # a third node of the same service, turned attacker
    other_service: ServiceIdentity
    high_of_other_service: NodeIdentity  # high's key, endorsed by the other service


@functools.cache
def world() -> World:
    rng = random.Random(2026)

    def service() -> ServiceIdentity:
        return ServiceIdentity.create(
            rng.randbytes(MIN_ENTROPY_BYTES), not_before=NOT_BEFORE, not_after=NOT_AFTER
        )

    def node(by: ServiceIdentity, address: str) -> NodeIdentity:
        key = identity_key_from_entropy(rng.randbytes(MIN_ENTROPY_BYTES))
        return by.endorse(key, [address], not_before=NOT_BEFORE, not_after=NOT_AFTER)

    ours, theirs = service(), service()
    first, second = node(ours, "127.0.0.1"), node(ours, "127.0.0.2")
    low, high = sorted([first, second], key=lambda identity: identity.node_id)
    high_of_other = theirs.endorse(high.key, ["127.0.0.2"], not_before=NOT_BEFORE, not_after=NOT_AFTER)
    return World(ours, low, high, node(ours, "127.0.0.3"), theirs, high_of_other)


def channel(
    me: NodeIdentity, peer: NodeIdentity, *, seed: int = 0, service: ServiceIdentity | None = None
) -> Channel:
    """`me`'s end of the channel to `peer`, trusting `service` (ours by default)."""
    trusted = service or world().service
    return Channel(me, peer.node_id, trusted.cert, random.Random(f"{me.node_id}/{seed}").randbytes)


def frames_to_send(events: list[ChannelEvent]) -> list[bytes]:
    return [event.frame for event in events if isinstance(event, SendToPeer)]


def connect(initiator: Channel, responder: Channel) -> list[bytes]:
    """Runs a handshake to completion, delivering every frame in order; returns the frames in the order
    they were sent (INIT, RESPONSE, FINISH), as an attacker on the network would record them."""
    recorded = [initiator.initiate()]
    pending = [(responder, recorded[0])]
    while pending:
        receiver, frame = pending.pop(0)
        other = initiator if receiver is responder else responder
        for reply in frames_to_send(receiver.receive(frame)):
            recorded.append(reply)
            pending.append((other, reply))
    return recorded


def connected_pair(seed: int = 0) -> tuple[Channel, Channel]:
    """(low's end, high's end) of an established channel, low having initiated."""
    low, high = channel(world().low, world().high, seed=seed), channel(world().high, world().low, seed=seed)
    connect(low, high)
    return low, high
