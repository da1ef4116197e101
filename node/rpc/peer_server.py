"""The peer port: other nodes' TLS connections in, their frames handed to the host (`node.rpc.peer_tls`).

The port listens from the node's start, before the enclave has made the node's identity. Until then every
handshake is refused; from then on each new handshake presents the service-endorsed certificate and
accepts only callers the service endorsed. The context is chosen per handshake (TLS's server-name hook,
which OpenSSL calls whether or not the caller names a server), so the listening socket never changes.
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
from node.rpc.tls import placeholder_identity

READ_BYTES = 1 << 16


class PeerServer:
    """Serves the peer port: every frame of a connection goes to `deliver(sender node id, frame)`."""

    def __init__(self, deliver: Callable[[str, bytes], None]) -> None:
        self._deliver = deliver
        self._context: ssl.SSLContext | None = None  # None: no identity yet, every handshake refused
        # The listener's own context only carries the hook: its placeholder certificate is never shown.
        cert_pem, key_pem = placeholder_identity()
        self._listener_context = peer_tls_context(
            server_side=True, cert_pem=cert_pem, key_pem=key_pem, service_cert_pem=cert_pem
        )
        self._listener_context.sni_callback = self._choose_context
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[object]] = set()

    async def start(self, address: Address) -> int:
        """Listens on `address` (port 0: a free one); the port bound. OSError if it cannot."""
        self._server = await asyncio.start_server(
            self._serve,
            address.host,
            address.port,
            ssl=self._listener_context,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT_SECONDS,
        )
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def set_identity(self, cert_pem: bytes, key_pem: bytes, service_cert_pem: bytes) -> None:
        """From the next handshake on: present `cert_pem`, accept the nodes `service_cert_pem` endorsed."""
        self._context = peer_tls_context(
            server_side=True, cert_pem=cert_pem, key_pem=key_pem, service_cert_pem=service_cert_pem
        )

    def _choose_context(
        self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        if self._context is None:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        connection.context = self._context
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            sender = node_id_of_peer(writer.get_extra_info("ssl_object"))
            decoder = FrameDecoder()
            while data := await reader.read(READ_BYTES):
                for frame in decoder.feed(data):
                    self._deliver(sender, frame)
        except FrameError as error:
            log_event(logging.WARNING, "peer connection closed", reason=str(error), peer=_peer(writer))
        except OSError:
            pass  # the connection broke: the sender reconnects
        finally:
            self._connections.discard(task)
            writer.close()

    async def stop(self) -> None:
        """Stops listening and closes every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    return f"{address[0]}:{address[1]}" if address else "unknown"
