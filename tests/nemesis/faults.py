"""Carries out a schedule of faults (`tests/nemesis/schedule.py`) on a real cluster, at their times.

Processes: `kill -9` and restart through `Cluster`, pauses with SIGSTOP/SIGCONT. Network: every node
hears its peers through its own `FaultProxy` (`node/fault_proxy.py`), started here before the nodes; a
network fault acts on the faulty node's proxy, and an isolation also on the others' proxies, which then
refuse the connections the isolated node opens (found by their ports among its sockets).
`heal_everything` undoes whatever is still in effect, so a run always ends on a healthy network of
running nodes, even after an error.
"""

from __future__ import annotations

import collections
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence

from node.config import Address
from node.fault_proxy import ClientAddress, FaultProxy
from node.network import NotReady
from tests.integration.cluster import Cluster
from tests.integration.proxies import ProxyThread
from tests.nemesis.schedule import ELECTION_TIMEOUT_SECONDS, PRIMARY, Action, Fault, FaultKind, Step
from tests.nemesis.sockets import local_tcp_ports

PRIMARY_SECONDS = 4 * ELECTION_TIMEOUT_SECONDS
IsFrom = Callable[[ClientAddress], bool]


class FaultInjector(threading.Thread):
    """Runs `steps` from the moment it starts, each when due, and ends `duration` seconds after it
    started (or once `stop_injecting` is set). `faults` counts the faults begun by kind, `done` the steps
    carried out by action; `log` holds one line per step (time, action, node)."""

    def __init__(
        self,
        cluster: Cluster,
        proxies: ProxyThread,
        inbound: dict[str, Address],
        steps: Sequence[Step],
        duration: float,
    ) -> None:
        super().__init__(name="nemesis", daemon=True)
        self._cluster = cluster
        self._proxies = proxies
        self._inbound = inbound
        self._steps = list(steps)
        self._duration = duration
        self._nodes: dict[Fault, str] = {}  # the node each fault begun acts on
        self._paused: set[str] = set()
        self._killed: set[str] = set()
        self._isolated: dict[str, IsFrom] = {}  # by node: whether a client address is one of its sockets
        self.stop_injecting = threading.Event()
        self.done: collections.Counter[Action] = collections.Counter()
        self.faults: collections.Counter[FaultKind] = collections.Counter()
        self.log: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        started = time.monotonic()
        try:
            # Waiting for a step's time is the schedule itself, not a synchronisation.
            for step in self._steps:
                if self.stop_injecting.wait(max(0.0, started + step.at - time.monotonic())):
                    return
                name = self._node_of(step)
                self.log.append(f"{time.monotonic() - started:7.2f}s {step.action.value} {name}")
                self.apply(step, name)
            self.stop_injecting.wait(max(0.0, started + self._duration - time.monotonic()))
        except BaseException as error:  # reported by the run, which heals and fails
            self.error = error

    def _node_of(self, step: Step) -> str:
        """The node `step` acts on: its fault's node, or the primary resolved when the fault began."""
        fault = step.fault
        if fault not in self._nodes:
            self.faults[fault.kind] += 1
            self._nodes[fault] = self._primary(step.at) if fault.node == PRIMARY else fault.node
        return self._nodes[fault]

    def _primary(self, now: float) -> str:
        """The primary among the nodes no fault under way at `now` acts on; the first of them if none is
        primary within a few election timeouts."""
        faulty = {name for fault, name in self._nodes.items() if fault.recovered > now}
        healthy = [name for name in self._cluster.names if name not in faulty]
        try:
            return self._cluster.primary(PRIMARY_SECONDS, among=healthy)
        except NotReady:
            return healthy[0]

    def apply(self, step: Step, name: str) -> None:
        address, fault = self._inbound[name], step.fault
        match step.action:
            case Action.KILL:
                self._cluster.kill(name)
                self._killed.add(name)
            case Action.RESTART:
                self._cluster.restart(name)
                self._killed.discard(name)
            case Action.PAUSE:
                self._signal(name, signal.SIGSTOP)
                self._paused.add(name)
            case Action.RESUME:
                self._signal(name, signal.SIGCONT)
                self._paused.discard(name)
            case Action.ISOLATE:
                self._proxies.cut(address)
                self._isolated[name] = self._outgoing_of(name)
                self._refuse_the_isolated()
            case Action.REJOIN:
                del self._isolated[name]
                self._refuse_the_isolated()
                self._proxies.heal(address)
            case Action.DEAFEN:
                self._proxies.cut(address)
            case Action.HOLD_INBOUND:
                self._proxies.on_loop(address, lambda proxy: proxy.cut_direction("forward"))
            case Action.HOLD_ACKS:
                self._proxies.on_loop(address, lambda proxy: proxy.cut_direction("backward"))
            case Action.HEAL if fault.kind is FaultKind.DEAFEN:
                self._proxies.heal(address)  # what was sent into the cut is dropped with its connections
            case Action.HEAL:
                self._proxies.on_loop(address, FaultProxy.heal)  # held bytes are delivered, late
            case Action.DELAY:
                self._proxies.on_loop(
                    address, lambda proxy: proxy.delay(fault.delay, jitter=fault.jitter, seed=fault.seed)
                )
            case Action.UNDELAY:
                self._proxies.on_loop(address, lambda proxy: proxy.delay(0))
            case Action.RESET:
                self._proxies.on_loop(address, FaultProxy.drop_connections)
        self.done[step.action] += 1

    def _outgoing_of(self, name: str) -> IsFrom:
        """Whether a client address at a proxy is one of `name`'s sockets: its peer connections."""
        pid = self._cluster.local.nodes[name].pid
        assert pid is not None, f"{name} has no process"
        return lambda address: address[1] in local_tcp_ports(pid)

    def _refuse_the_isolated(self) -> None:
        """Every node's proxy refuses the connections of the other nodes isolated now (none: lifted)."""
        for name, address in self._inbound.items():
            refusal = _any_of(tuple(is_from for other, is_from in self._isolated.items() if other != name))
            self._proxies.on_loop(address, functools.partial(FaultProxy.refuse_from, is_refused=refusal))

    def _signal(self, name: str, number: signal.Signals) -> None:
        pid = self._cluster.local.nodes[name].pid
        assert pid is not None, f"{name} has no process to signal"
        os.kill(pid, number)

    def heal_everything(self) -> list[str]:
        """Stops injecting and undoes every fault: paused nodes resume, dead ones restart, every proxy
        forwards at once, without delay. Returns the nodes that had stopped though not killed (crashed)."""
        self.stop_injecting.set()
        self.join(timeout=30)
        for name in sorted(self._paused):
            self._signal(name, signal.SIGCONT)
        self._paused.clear()
        stopped = [name for name, node in self._cluster.local.nodes.items() if not node.is_running()]
        for name in stopped:
            self._cluster.restart(name)
        self._isolated.clear()
        self._refuse_the_isolated()
        for address in self._inbound.values():
            self._proxies.on_loop(address, lambda proxy: proxy.delay(0))
            self._proxies.heal(address)
        return [name for name in stopped if name not in self._killed]


def _any_of(tests: tuple[IsFrom, ...]) -> IsFrom | None:
    """Whether a client address passes any of `tests` (None when there is none)."""
    if not tests:
        return None
    return lambda client: any(is_from(client) for is_from in tests)
