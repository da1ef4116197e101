"""Outgoing peer traffic: one client-streaming `Peer.Stream` call per peer, reconnected with backoff.

The host never interprets frames: it queues what the enclave asks to send and writes it to the peer's
stream in order. A frame queued while the peer is unreachable waits (up to `MAX_QUEUED_FRAMES`; older
ones are dropped first): Raft and the channels resend what matters, and a stale flood helps nobody.
Frames written into a stream that then breaks are lost, as on any network (DESIGN.md section 2).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import grpc

from node.rpc.tls import channel_credentials
from proto.sealchain.v1 import node_pb2, node_pb2_grpc

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 4096
# At most this many bytes of frames in one stream message (gRPC's default limit is 4 MiB).
MAX_MESSAGE_BYTES = 1 << 20
INITIAL_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 1.0


class _Link:
    """The stream to one peer address, and the frames waiting for it."""

    def __init__(self, node_id: str, address: str, links: PeerLinks) -> None:
        self.node_id = node_id
        self.address = address
        self._links = links
        self._frames: collections.deque[bytes] = collections.deque(maxlen=MAX_QUEUED_FRAMES)
        self._wakeup = asyncio.Event()
        self._streamed = 0  # frames handed to the current stream
        self._task = asyncio.create_task(self._run(), name=f"peer link {node_id[:8]} {address}")

    def send(self, frame: bytes) -> None:
        self._frames.append(frame)
        self._wakeup.set()

    def wake(self) -> None:
        self._wakeup.set()

    def close(self) -> asyncio.Task[None]:
        """Stops the link; the returned task ends once it has (frames still queued are dropped)."""
        self._task.cancel()
        return self._task

    async def _run(self) -> None:
        """Connect, stream, and after a failure wait (doubling from INITIAL_BACKOFF_SECONDS up to
        MAX_BACKOFF_SECONDS, back to the start once a stream has carried frames) and reconnect."""
        backoff = INITIAL_BACKOFF_SECONDS
        while True:
            credentials = await self._links.credentials()
            self._streamed = 0
            async with grpc.aio.secure_channel(self.address, credentials) as channel:
                stub = node_pb2_grpc.PeerStub(channel)  # type: ignore[no-untyped-call]
                try:
                    await stub.Stream(self._outgoing())
                except grpc.aio.AioRpcError as error:
                    self._links.on_link_error(self.node_id, error)
                else:  # the stream ends only when the credentials change: reconnect at once
                    continue
            if self._streamed:
                backoff = INITIAL_BACKOFF_SECONDS
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _outgoing(self) -> AsyncIterator[node_pb2.PeerFrame]:
        """The frames queued for this peer, as they come, until the node's credentials change: all those
        queued at once go in one message (DESIGN.md section 9: a gRPC write per frame was the largest
        cost under load, docs/performance.md)."""
        generation = self._links.generation
        while generation == self._links.generation:
            while self._frames:
                batch: list[bytes] = []
                size = 0
                while self._frames and (not batch or size + len(self._frames[0]) <= MAX_MESSAGE_BYTES):
                    size += len(self._frames[0])
                    batch.append(self._frames.popleft())
                self._streamed += len(batch)
                yield node_pb2.PeerFrame(from_node_id=self._links.own_node_id, channel_frames=batch)
            self._wakeup.clear()
            await self._wakeup.wait()


class PeerLinks:
    """Every outgoing peer link of one node; connects once the enclave has handed out a TLS identity."""

    def __init__(self, service_cert_pem: Callable[[], bytes | None]) -> None:
        self._service_cert_pem = service_cert_pem
        self._identity: tuple[bytes, bytes] | None = None
        self._identity_known = asyncio.Event()
        self._links: dict[str, _Link] = {}
        self.own_node_id = ""
        self.generation = 0  # bumped when the credentials change, so streams reconnect with new ones
        self.link_errors = 0

    def set_identity(self, node_id: str, cert_pem: bytes, key_pem: bytes) -> None:
        self.own_node_id = node_id
        self._identity = (cert_pem, key_pem)
        self.generation += 1
        self._identity_known.set()
        for link in self._links.values():
            link.wake()

    async def credentials(self) -> grpc.ChannelCredentials:
        await self._identity_known.wait()
        service_cert = self._service_cert_pem()
        assert service_cert is not None and self._identity is not None
        return channel_credentials(service_cert, self._identity)

    def set_addresses(self, addresses: dict[str, str]) -> None:
        """Replaces the set of peers: new ones get a link, gone or moved ones lose theirs."""
        for node_id in list(self._links):
            if addresses.get(node_id) != self._links[node_id].address:
                self._links.pop(node_id).close()
        for node_id, address in addresses.items():
            if node_id not in self._links:
                self._links[node_id] = _Link(node_id, address, self)

    def send(self, node_id: str, frame: bytes) -> bool:
        """Queues `frame` for `node_id`; False when no address is known for it (the frame is dropped)."""
        link = self._links.get(node_id)
        if link is None:
            return False
        link.send(frame)
        return True

    def on_link_error(self, node_id: str, error: grpc.aio.AioRpcError) -> None:
        self.link_errors += 1
        log.debug("peer link to %s failed: %s", node_id[:8], error.code().name)

    def addresses(self) -> dict[str, str]:
        return {node_id: link.address for node_id, link in self._links.items()}

    async def close(self) -> None:
        tasks = [link.close() for link in self._links.values()]
        self._links.clear()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
