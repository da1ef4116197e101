"""Outgoing peer traffic: one TLS connection per peer (`node.rpc.peer_tls`), reconnected with backoff.

The host never interprets frames: it queues what the enclave asks to send and writes it to the peer's
connection in order. A frame queued while the peer is unreachable waits (up to `MAX_QUEUED_FRAMES`; older
ones are dropped first): Raft and the channels resend what matters, and a stale flood helps nobody.
Frames written into a connection that then breaks are lost, as on any network (DESIGN.md section 2).
The node dialled must present a certificate endorsed by the service for the node id it was dialled as.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl

from node.config import Address
from node.rpc.peer_tls import HANDSHAKE_TIMEOUT_SECONDS, encode_frames, node_id_of_peer, peer_tls_context

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 4096
# At most this many bytes of frames in one write (a larger frame goes alone).
MAX_WRITE_BYTES = 1 << 20
CONNECT_TIMEOUT_SECONDS = 10.0
INITIAL_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 1.0


class PeerRefused(Exception):
    """The node at a peer's address is not that peer."""


class _Link:
    """The connection to one peer address, and the frames waiting for it."""

    def __init__(self, node_id: str, address: str, links: PeerLinks) -> None:
        self.node_id = node_id
        self.address = address
        self._links = links
        self._frames: collections.deque[bytes] = collections.deque(maxlen=MAX_QUEUED_FRAMES)
        self._wakeup = asyncio.Event()
        self._streamed = 0  # frames handed to the current connection
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
        """Connect, write, and after a failure wait (doubling from INITIAL_BACKOFF_SECONDS up to
        MAX_BACKOFF_SECONDS, back to the start once a connection has carried frames) and reconnect."""
        backoff = INITIAL_BACKOFF_SECONDS
        while True:
            context = await self._links.context()
            generation = self._links.generation
            self._streamed = 0
            try:
                await self._connect_and_write(context, generation)
            except (OSError, TimeoutError, ValueError, PeerRefused) as error:  # ValueError: a bad address
                self._links.on_link_error(self.node_id, error)
            else:  # the connection ends only when the credentials change: reconnect at once
                continue
            if self._streamed:
                backoff = INITIAL_BACKOFF_SECONDS
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _connect_and_write(self, context: ssl.SSLContext, generation: int) -> None:
        address = Address.parse(self.address)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                address.host, address.port, ssl=context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_SECONDS
            ),
            CONNECT_TIMEOUT_SECONDS,
        )
        # The other end never writes: its end of file (or a reset) says the connection is gone, so frames
        # queued from then on wait for the next one instead of going into a dead socket.
        closed = asyncio.create_task(reader.read(1))
        closed.add_done_callback(self._connection_ended)
        try:
            answered_by = node_id_of_peer(writer.get_extra_info("ssl_object"))
            if answered_by != self.node_id:
                raise PeerRefused(f"{self.address} is node {answered_by[:8]}, not {self.node_id[:8]}")
            await self._write(writer, closed, generation)
        finally:
            closed.cancel()
            writer.close()

    def _connection_ended(self, watch: asyncio.Task[bytes]) -> None:
        if not watch.cancelled():
            watch.exception()  # a reset is how connections end here: nothing to report
        self._wakeup.set()

    async def _write(
        self, writer: asyncio.StreamWriter, closed: asyncio.Task[bytes], generation: int
    ) -> None:
        """The frames queued for this peer, as they come, until the node's credentials change: all those
        queued at once go in one write (DESIGN.md section 9: a write per frame was the largest cost under
        load, docs/performance.md)."""
        while generation == self._links.generation:
            if closed.done():
                raise ConnectionResetError(f"{self.address} closed the connection")
            while self._frames:
                batch: list[bytes] = []
                size = 0
                while self._frames and (not batch or size + len(self._frames[0]) <= MAX_WRITE_BYTES):
                    size += len(self._frames[0])
                    batch.append(self._frames.popleft())
                self._streamed += len(batch)
                writer.write(encode_frames(batch))
                await writer.drain()
            self._wakeup.clear()
            await self._wakeup.wait()


class PeerLinks:
    """Every outgoing peer link of one node; connects once the enclave has handed out a TLS identity."""

    def __init__(self) -> None:
        self._context: ssl.SSLContext | None = None
        self._identity_known = asyncio.Event()
        self._links: dict[str, _Link] = {}
        self.generation = 0  # bumped when the credentials change, so connections reopen with new ones
        self.link_errors = 0

    def set_identity(self, cert_pem: bytes, key_pem: bytes, service_cert_pem: bytes) -> None:
        """From now on: present `cert_pem`, talk only to nodes `service_cert_pem` endorsed."""
        self._context = peer_tls_context(
            server_side=False, cert_pem=cert_pem, key_pem=key_pem, service_cert_pem=service_cert_pem
        )
        self.generation += 1
        self._identity_known.set()
        for link in self._links.values():
            link.wake()

    async def context(self) -> ssl.SSLContext:
        await self._identity_known.wait()
        assert self._context is not None
        return self._context

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

    def on_link_error(self, node_id: str, error: Exception) -> None:
        self.link_errors += 1
        log.debug("peer link to %s failed: %s", node_id[:8], error)

    def addresses(self) -> dict[str, str]:
        return {node_id: link.address for node_id, link in self._links.items()}

    async def close(self) -> None:
        tasks = [link.close() for link in self._links.values()]
        self._links.clear()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
