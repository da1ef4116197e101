"""The peer port: other nodes' TLS connections in, their frames handed to the host (`node.rpc.peer_tls`).

The port listens from the node's start, before the enclave has made the node's identity. Each accepted
TCP connection is upgraded to TLS with the context of that moment: none before the identity exists (the
connection is closed), afterwards the service-endorsed certificate, accepting only callers the service
endorsed. A connection reads nothing before its handshake, so no byte of it can reach a frame
unauthenticated. A refused connection is logged ("peer connection refused") with its reason: a failed
handshake as a warning, one before the identity exists (as while the node joins) as information.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from node.config import Address
from node.node_log import log_event
from node.rpc.peer_tls import (
    HANDSHAKE_TIMEOUT_SECONDS,
    FrameDecoder,
    FrameError,
    node_id_of_peer,
    peer_tls_context,
)

Deliver = Callable[[str, bytes], None]


class PeerServer:
    """Serves the peer port: every frame of a connection goes to `deliver(sender node id, frame)`."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._context: ssl.SSLContext | None = None  # None: no identity yet, every connection refused
        self._server: asyncio.Server | None = None
        self._handshakes: set[asyncio.Task[None]] = set()
        self._connections: set[_PeerConnection] = set()

    async def start(self, address: Address) -> int:
        """Listens on `address` (port 0: a free one); the port bound. OSError if it cannot."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Accepted(self), address.host, address.port)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def set_identity(self, cert_pem: bytes, key_pem: bytes, service_cert_pem: bytes) -> None:
        """From the next connection on: present `cert_pem`, accept the nodes `service_cert_pem` endorsed."""
        self._context = peer_tls_context(
            server_side=True, cert_pem=cert_pem, key_pem=key_pem, service_cert_pem=service_cert_pem
        )

    def handshake(self, transport: asyncio.Transport) -> None:
        """Upgrades a new TCP connection to TLS (`_Accepted` has paused its reading)."""
        task = asyncio.get_running_loop().create_task(self._handshake(transport))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, transport: asyncio.Transport) -> None:
        peer = _address(transport)
        context = self._context
        if context is None:  # expected while this node joins: its peers may know it before it knows itself
            _refused(transport, peer, "this node is not part of a service yet", logging.INFO)
            return
        connection = _PeerConnection(self._deliver, peer, closed=self._connections.discard)
        self._connections.add(connection)
        try:
            tls = await asyncio.get_running_loop().start_tls(
                transport,
                connection,
                context,
                server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_SECONDS,
            )
        except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
            self._connections.discard(connection)
            _refused(transport, peer, str(error) or type(error).__name__, logging.WARNING)
            return
        if tls is None:  # the connection closed during the handshake
            self._connections.discard(connection)
            return
        connection.started(tls)

    async def stop(self) -> None:
        """Stops listening and closes every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._handshakes):
            task.cancel()
        await asyncio.gather(*self._handshakes, return_exceptions=True)
        for connection in list(self._connections):
            connection.abort()
        if self._server is not None:
            await self._server.wait_closed()


class _Accepted(asyncio.Protocol):
    """A TCP connection until its TLS handshake: it reads nothing, so every byte goes to TLS."""

    def __init__(self, server: PeerServer) -> None:
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()
        self._server.handshake(transport)


class _PeerConnection(asyncio.Protocol):
    """One authenticated connection: its bytes become frames in the name of the caller's certificate."""

    def __init__(self, deliver: Deliver, peer: str, closed: Callable[[_PeerConnection], None]) -> None:
        self._deliver = deliver
        self._peer = peer
        self._closed = closed
        self._decoder = FrameDecoder()
        self._transport: asyncio.Transport | None = None
        self._sender: str | None = None
        # Bytes that arrive with the end of the handshake, before `started` names the sender.
        self._early: list[bytes] = []

    def started(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._sender = node_id_of_peer(transport.get_extra_info("ssl_object"))
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._sender is None:
            self._early.append(data)
            return
        try:
            frames = self._decoder.feed(data)
        except FrameError as error:
            log_event(logging.WARNING, "peer connection closed", reason=str(error), peer=self._peer)
            self.abort()
            return
        for frame in frames:
            self._deliver(self._sender, frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed(self)


def _address(transport: asyncio.BaseTransport) -> str:
    address = transport.get_extra_info("peername")
    return f"{address[0]}:{address[1]}" if address else "unknown"


def _refused(transport: asyncio.Transport, peer: str, reason: str, level: int) -> None:
    log_event(level, "peer connection refused", reason=reason, peer=peer)
    transport.abort()
