"""`node.fault_proxy.FaultProxy` for synchronous tests: the proxies run on an event loop in a thread."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections.abc import Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, TypeVar

from node.config import Address, Endpoint
from node.fault_proxy import Direction, FaultProxy

T = TypeVar("T")


# Below Linux's ephemeral range (32768-60999): the system never hands these out for port 0, so a port
# picked here cannot be taken by a node or proxy binding port 0 before its owner binds it.
_FIXED_PORTS = range(20_000, 32_000)


def free_port() -> int:
    """A port free right now on 127.0.0.1, for a node that must listen behind a proxy started first."""
    rng = random.Random()
    while True:
        port = rng.choice(_FIXED_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class ProxyThread:
    """Runs fault proxies on a private event loop; every control call is made on that loop."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault proxies", daemon=True)
        self._proxies: list[FaultProxy] = []

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for proxy in self._proxies:
            self._run(proxy.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def on_loop(self, address: Address, change: Callable[[FaultProxy], T]) -> T:
        """`change(proxy)` for the proxy at `address`, run on the proxies' event loop (a `FaultProxy`
        is not thread-safe); its result."""
        proxy = self.proxy(address)

        async def call() -> T:
            return change(proxy)

        return self._run(call())

    def start(self, target: Address, *, tap: bool = False) -> Address:
        """A proxy to `target`; the address to dial instead."""
        proxy = FaultProxy(target=(target.host, target.port), tap=tap)
        self._run(proxy.start())
        self._proxies.append(proxy)
        return Address("127.0.0.1", proxy.port)

    def proxy(self, address: Address) -> FaultProxy:
        return next(proxy for proxy in self._proxies if proxy.port == address.port)

    def captured(self, address: Address, direction: Direction) -> bytes:
        return self.on_loop(address, lambda proxy: proxy.captured(direction))

    def cut(self, address: Address) -> None:
        self.on_loop(address, lambda proxy: proxy.cut(reset=True))

    def heal(self, address: Address) -> None:
        """Forwards again; bytes held during the cut are dropped with their connections (the senders
        reconnect), so nothing sent into the partition arrives after it."""

        def reset_and_heal(proxy: FaultProxy) -> None:
            proxy.drop_connections()
            proxy.heal()

        self.on_loop(address, reset_and_heal)

    def deafen(self, address: Address) -> None:
        """The node behind `address` hears nobody, while everyone still hears it (an asymmetric
        partition): frames to it are held, and dropped with their connections at `heal`."""
        self.on_loop(address, lambda proxy: proxy.cut_direction("forward"))

    def delay(self, address: Address, seconds: float, jitter: float, seed: int) -> None:
        """Every chunk to the node behind `address`, either way, waits `seconds` + uniform(0, `jitter`)."""
        self.on_loop(address, lambda proxy: proxy.delay(seconds, jitter=jitter, seed=seed))

    def forwarded(self, address: Address) -> int:
        """Bytes the proxy at `address` has delivered to its target so far."""
        return self.on_loop(address, lambda proxy: proxy.bytes_forwarded("forward"))


def proxied_peers(
    proxies: ProxyThread, names: Sequence[str]
) -> tuple[dict[str, Address], dict[str, Endpoint]]:
    """A proxy in front of each node's peer port: the proxies' addresses by node name, and the peer
    endpoints (bind the node's own port, advertise its proxy, so every other node dials the proxy) to
    start the nodes with."""
    inbound: dict[str, Address] = {}
    peers: dict[str, Endpoint] = {}
    for name in names:
        bound = Address("127.0.0.1", free_port())
        inbound[name] = proxies.start(bound)
        peers[name] = Endpoint(bound, inbound[name])
    return inbound, peers
