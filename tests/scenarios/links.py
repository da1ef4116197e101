"""Peer links through fault proxies, for scenarios that cut, delay or half-cut the traffic to one node.

Every node listens for peers behind its own proxy (as in tests/integration/test_partition.py), so a fault
on `inbound[name]` hits every peer connection *to* that node: "forward" carries what the others send it,
"backward" only the transport's replies on those same connections.
"""

from __future__ import annotations

from node.config import Address
from tests.integration.proxies import ProxyThread


class ScenarioProxies(ProxyThread):
    """`ProxyThread` with the one-way and delaying faults the scenarios need."""

    def __enter__(self) -> ScenarioProxies:
        super().__enter__()
        return self

    def deafen(self, address: Address) -> None:
        """The node behind `address` hears nobody, while everyone still hears it (an asymmetric
        partition): frames to it are held, and dropped with their connections at `heal`."""
        proxy = self.proxy(address)
        self._call(lambda: proxy.cut_direction("forward"))

    def delay(self, address: Address, seconds: float, jitter: float, seed: int) -> None:
        """Every chunk to the node behind `address`, either way, waits `seconds` + uniform(0, `jitter`)."""
        proxy = self.proxy(address)
        self._call(lambda: proxy.delay(seconds, jitter=jitter, seed=seed))

    def forwarded(self, address: Address) -> int:
        """Bytes the proxy at `address` has delivered to its target so far."""
        proxy = self.proxy(address)
        return self._call(lambda: proxy.bytes_forwarded("forward"))
