"""This node's channels to its peers: one `Channel` per peer, created on first contact either way.

- Sending to a peer without an established session queues the payload (bounded: Raft retransmits what a
  full queue drops) and starts a handshake; the queue is flushed once the session is established.
- A handshake that has not completed after `retry_ticks` ticks is started again (the peer may have been
  down, or the frames lost); so is one after this node restarted (its channels start closed). Each retry
  to a peer waits twice as long as the last (up to `MAX_RETRY_BACKOFF` times `retry_ticks`) until a
  session is established, and answering the peer's INIT restarts the wait: over a link slower than
  `retry_ticks`, a fixed interval would replace every handshake before its answer arrived, forever.
- A frame from a peer we have no channel with creates one only if the channel accepts the frame (a
  handshake INIT signed by a node the service endorsed): bogus senders leave nothing behind.
- A removed peer (its removal from the service committed) loses its channel: nothing is sent to it any
  more and its frames are refused, although its certificate is still endorsed.
Every rejected frame raises `PeerRejected` naming the reason, and changes nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from cryptography import x509

from enclave.crypto.identity import NodeIdentity
from enclave.crypto.ids import NodeId
from enclave.platform.api import RandomBytes
from enclave.runtime import messages as m
from enclave.runtime import peer_wire
from enclave.runtime.channel_errors import ChannelError
from enclave.runtime.channels import (
    AuthenticatedReceived,
    Channel,
    ChannelState,
    SealedReceived,
    SendToPeer,
    SessionEstablished,
)
from enclave.runtime.errors import PeerRejected
from enclave.runtime.peer_wire import PayloadKind

# Per peer; Raft retransmits, forwarded calls time out and are answered as retryable.
MAX_QUEUED = 512
MAX_RETRY_BACKOFF = 8


@dataclass(frozen=True, slots=True)
class Received:
    """A payload that arrived from `peer` (already authenticated, and decrypted when sealed)."""

    peer: NodeId
    kind: PayloadKind
    payload: bytes


class Peers:
    __slots__ = (
        "_channels",
        "_handshake_age",
        "_identity",
        "_queues",
        "_random_bytes",
        "_removed",
        "_retry_after",
        "_retry_ticks",
        "_service_cert",
    )

    def __init__(
        self,
        identity: NodeIdentity,
        service_cert: x509.Certificate,
        random_bytes: RandomBytes,
        retry_ticks: int,
    ) -> None:
        self._identity = identity
        self._service_cert = service_cert
        self._random_bytes = random_bytes
        self._retry_ticks = retry_ticks
        self._channels: dict[NodeId, Channel] = {}
        self._queues: dict[NodeId, deque[tuple[PayloadKind, bytes]]] = {}
        self._handshake_age: dict[NodeId, int] = {}
        # Ticks the handshake in progress with a peer may take before it is started again.
        self._retry_after: dict[NodeId, int] = {}
        self._removed: set[NodeId] = set()

    def remove(self, peer: NodeId) -> None:
        """The peer left the service: drop its channel and queue; from now on nothing goes to it and its
        frames are refused."""
        self._removed.add(peer)
        self._channels.pop(peer, None)
        self._queues.pop(peer, None)
        self._handshake_age.pop(peer, None)
        self._retry_after.pop(peer, None)

    def send(self, peer: NodeId, kind: PayloadKind, payload: bytes) -> list[m.Effect]:
        if peer in self._removed:
            return []
        channel = self._channels.get(peer)
        if channel is None:
            channel = self._channels[peer] = Channel(
                self._identity, peer, self._service_cert, self._random_bytes
            )
        if channel.session_id is not None:
            return [m.SendToPeer(peer, _frame(channel, kind, payload))]
        self._queues.setdefault(peer, deque(maxlen=MAX_QUEUED)).append((kind, payload))
        if channel.state is ChannelState.CLOSED:
            return self._initiate(channel)
        return []

    def tick(self) -> list[m.Effect]:
        effects: list[m.Effect] = []
        for peer, channel in sorted(self._channels.items()):
            if channel.state in (ChannelState.INITIATED, ChannelState.RESPONDED):
                age = self._handshake_age[peer] = self._handshake_age.get(peer, 0) + 1
                patience = self._retry_after.get(peer, self._retry_ticks)
                if age >= patience:
                    self._retry_after[peer] = min(2 * patience, MAX_RETRY_BACKOFF * self._retry_ticks)
                    effects += self._initiate(channel)
        return effects

    def receive(self, sender: str, frame: bytes) -> tuple[list[m.Effect], list[Received]]:
        """Effects (handshake answers, flushed queues) and the payloads the frame delivered."""
        peer = NodeId(sender)
        if peer in self._removed:
            raise PeerRejected(f"frame from {sender}: the node was removed from the service")
        channel = self._channels.get(peer)
        known = channel is not None
        if channel is None:
            try:
                channel = Channel(self._identity, peer, self._service_cert, self._random_bytes)
            except ValueError as exc:
                raise PeerRejected(f"frame from {sender!r}: {exc}") from None
        try:
            events = channel.receive(frame)
        except ChannelError as exc:
            raise PeerRejected(f"frame from {sender}: {type(exc).__name__}: {exc}") from None
        if not known:
            self._channels[peer] = channel
        if channel.state is ChannelState.RESPONDED:
            self._handshake_age[peer] = 0  # the peer's handshake is under way: give its FINISH time
        effects: list[m.Effect] = []
        received: list[Received] = []
        for event in events:
            match event:
                case SendToPeer():
                    effects.append(m.SendToPeer(peer, event.frame))
                case SessionEstablished():
                    self._handshake_age.pop(peer, None)
                    self._retry_after.pop(peer, None)
                    queue = self._queues.pop(peer, deque())
                    effects += [m.SendToPeer(peer, _frame(channel, kind, data)) for kind, data in queue]
                case SealedReceived() | AuthenticatedReceived():
                    kind = peer_wire.read_header(event.header)
                    if (kind is PayloadKind.RAFT) != isinstance(event, AuthenticatedReceived):
                        raise PeerRejected(
                            f"frame from {sender}: {kind.name} payload in the wrong frame kind"
                        )
                    received.append(Received(peer, kind, event.payload))
        return effects, received

    def _initiate(self, channel: Channel) -> list[m.Effect]:
        self._handshake_age[channel.peer_id] = 0
        return [m.SendToPeer(channel.peer_id, channel.initiate())]


def _frame(channel: Channel, kind: PayloadKind, payload: bytes) -> bytes:
    header = peer_wire.header(kind)
    if kind is PayloadKind.RAFT:
        return channel.authenticate(header, payload)
    return channel.seal(payload, header=header)
