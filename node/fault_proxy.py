"""A loopback TCP proxy that integration tests put between two nodes to inject network faults.

DESIGN.md section 2: the network between nodes is untrusted and may drop, delay or cut traffic; this
proxy lets a test do so to real processes while connections are open. It forwards any TCP stream
byte for byte (gRPC over TLS passes through unchanged), in two directions: "forward" (from the
connecting client to the target) and "backward" (from the target to the client).

Faults, changeable at any time:
- `cut()` / `cut_direction(d)` / `heal()`: a cut direction stops forwarding. Bytes are held, not lost,
  as TCP retransmission would deliver them after a partition heals: dropping bytes from the middle of a
  stream would corrupt it (and TLS would tear it down), which is a reset, not a partition. `cut(reset=True)`
  also resets every open connection. While the forward direction is cut, a new connection is accepted
  but not connected to the target (its SYN would not get through).
- `delay(seconds, jitter=..., seed=...)`: each chunk waits `seconds` plus a seeded uniform jitter; a chunk
  never overtakes an earlier one, so the stream's order is kept.
- `drop_connections()`: resets (RST) every open connection; new connections are accepted as before.
- `refuse_from(is_refused)`: a partition by sender, as a firewall rule on the source address would be:
  open connections whose client address `is_refused` are reset, and so is every new one from it, until
  `refuse_from(None)`. The proxy cannot tell which process a client address belongs to; the caller's
  predicate does (a test looks the address up among a node's sockets).

Only loopback addresses are accepted, for listening and as the target: it is a test tool, and a proxy
that could be pointed elsewhere would be an open relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Self

Direction = Literal["forward", "backward"]
ClientAddress = tuple[str, int]
DIRECTIONS: tuple[Direction, Direction] = ("forward", "backward")

_CHUNK_SIZE = 64 * 1024
# Chunks read but not yet written, per direction and connection: beyond this, reading stops and TCP's
# own flow control pushes back on the sender (a cut direction holds at most this much in the proxy).
_MAX_QUEUED_CHUNKS = 64


class NonLoopbackAddress(ValueError):
    """A listen or target address that is not a loopback address."""


def _require_loopback(host: str, what: str, *, name_allowed: bool) -> None:
    if name_allowed and host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise NonLoopbackAddress(f"the {what} {host!r} is not a loopback IP address") from None
    if not address.is_loopback:
        raise NonLoopbackAddress(
            f"the {what} {host} is not a loopback address: the fault proxy is loopback only"
        )


@dataclass
class _Link:
    """The controls and counters of one direction, shared by every connection."""

    forwarding: asyncio.Event = field(default_factory=asyncio.Event)
    delay: float = 0.0
    jitter: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    received: int = 0
    forwarded: int = 0
    captured: bytearray | None = None

    def next_delay(self) -> float:
        return self.delay + (self.rng.uniform(0.0, self.jitter) if self.jitter else 0.0)


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    client_address: ClientAddress
    upstream: asyncio.StreamWriter | None = None
    handler: asyncio.Task[None] | None = None

    def reset(self) -> None:
        """Closes both sockets with an RST (SO_LINGER 0), not an orderly FIN, and stops forwarding."""
        for writer in (self.client, self.upstream):
            if writer is None or writer.transport.is_closing():
                continue
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        if self.handler is not None and self.handler is not asyncio.current_task():
            self.handler.cancel()


class FaultProxy:
    """Accepts TCP connections on `listen_host:listen_port` and relays each to `target`, with faults."""

    def __init__(
        self,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        *,
        target: tuple[str, int],
        tap: bool = False,
    ) -> None:
        # "localhost" may bind two sockets (IPv4 and IPv6) on two different ports: listen on one address.
        _require_loopback(listen_host, "listen address", name_allowed=False)
        _require_loopback(target[0], "target address", name_allowed=True)
        self._listen = (listen_host, listen_port)
        self._target = target
        self._links: dict[Direction, _Link] = {direction: _Link() for direction in DIRECTIONS}
        for link in self._links.values():
            link.forwarding.set()
            link.captured = bytearray() if tap else None
        self._connections: set[_Connection] = set()
        self._is_refused: Callable[[ClientAddress], bool] | None = None
        self._server: asyncio.Server | None = None
        self._port: int | None = None

    # Lifecycle.

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the fault proxy is already started")
        self._server = await asyncio.start_server(self._handle, *self._listen)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stops listening and resets every open connection."""
        if self._server is None:
            return
        self._server.close()
        handlers = [c.handler for c in self._connections if c.handler is not None]
        self.drop_connections()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (the one picked by the system when started with port 0)."""
        if self._port is None:
            raise RuntimeError("the fault proxy is not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return self._listen[0], self.port

    # Faults.

    def cut(self, *, reset: bool = False) -> None:
        """Stops forwarding both ways (bytes are held until `heal`); with `reset`, also resets every
        open connection."""
        for direction in DIRECTIONS:
            self.cut_direction(direction)
        if reset:
            self.drop_connections()

    def cut_direction(self, direction: Direction) -> None:
        """Stops forwarding one way only: an asymmetric partition."""
        self._links[direction].forwarding.clear()

    def heal(self) -> None:
        """Forwards both ways again, held bytes first."""
        for link in self._links.values():
            link.forwarding.set()

    def delay(
        self, seconds: float, *, jitter: float = 0.0, seed: int = 0, direction: Direction | None = None
    ) -> None:
        """Delays every chunk by `seconds` plus uniform(0, `jitter`) drawn from a `seed`ed generator,
        keeping order; in one direction, or both when `direction` is None. `delay(0)` removes it."""
        if seconds < 0 or jitter < 0:
            raise ValueError("a delay and its jitter are not negative")
        for name in DIRECTIONS if direction is None else (direction,):
            link = self._links[name]
            link.delay, link.jitter = seconds, jitter
            link.rng = random.Random(f"{seed}/{name}")

    def drop_connections(self) -> None:
        """Resets every open connection (the peers see a connection reset)."""
        for connection in list(self._connections):
            connection.reset()
        self._connections.clear()

    def refuse_from(self, is_refused: Callable[[ClientAddress], bool] | None) -> None:
        """Resets every connection, open or new, from a client address that `is_refused`; None lifts it."""
        self._is_refused = is_refused
        if is_refused is None:
            return
        for connection in [c for c in self._connections if is_refused(c.client_address)]:
            connection.reset()
            self._connections.discard(connection)

    # Observation.

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def bytes_received(self, direction: Direction) -> int:
        """Bytes read from the sending side, whether forwarded yet or held by a cut or a delay."""
        return self._links[direction].received

    def bytes_forwarded(self, direction: Direction) -> int:
        return self._links[direction].forwarded

    def captured(self, direction: Direction) -> bytes:
        """Every byte forwarded in `direction`, in order, over all connections (needs `tap=True`)."""
        captured = self._links[direction].captured
        if captured is None:
            raise RuntimeError("the fault proxy was created without tap=True")
        return bytes(captured)

    # Forwarding.

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        host, port = client_writer.get_extra_info("peername")[:2]
        connection = _Connection(client_writer, (host, port), handler=asyncio.current_task())
        if self._is_refused is not None and self._is_refused(connection.client_address):
            connection.reset()
            return
        self._connections.add(connection)
        try:
            await self._relay(connection, client_reader)
        except asyncio.CancelledError:
            pass  # dropped by drop_connections or stop: this connection's task ends quietly
        finally:
            self._connections.discard(connection)
            connection.handler = None
            connection.reset()  # whatever is still open after an error or a drop

    async def _relay(self, connection: _Connection, client_reader: asyncio.StreamReader) -> None:
        try:
            # A SYN travels forward: it gets through only while the forward direction is not cut.
            await self._links["forward"].forwarding.wait()
            upstream_reader, connection.upstream = await asyncio.open_connection(*self._target)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pump(client_reader, connection.upstream, "forward"))
                group.create_task(self._pump(upstream_reader, connection.client, "backward"))
            # Both sides half-closed and everything was delivered: an orderly close.
            connection.client.close()
            connection.upstream.close()
        except* OSError:
            pass  # a reset, or a refused connection to the target, ends this connection only

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: Direction
    ) -> None:
        """Reads chunks as they come and writes each when its delay has passed and its direction is not
        cut; a chunk is never due before the previous one, so order is kept."""
        link = self._links[direction]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(maxsize=_MAX_QUEUED_CHUNKS)

        async def read() -> None:
            last_due = 0.0
            while chunk := await reader.read(_CHUNK_SIZE):
                link.received += len(chunk)
                last_due = max(loop.time() + link.next_delay(), last_due)
                await queue.put((last_due, chunk))
            await queue.put(None)

        async def write() -> None:
            while (item := await queue.get()) is not None:
                due, chunk = item
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)  # the injected delay itself
                await link.forwarding.wait()
                writer.write(chunk)
                await writer.drain()
                link.forwarded += len(chunk)
                if link.captured is not None:
                    link.captured += chunk
            if writer.can_write_eof():
                writer.write_eof()  # pass the sender's half-close on

        async with asyncio.TaskGroup() as group:
            group.create_task(read())
            group.create_task(write())
