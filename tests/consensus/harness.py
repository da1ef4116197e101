"""An application around the consensus core, for tests: durable in-memory storage, a tiny state
machine, and a cluster whose network the test controls message by message.

`Node` honours the persistence contract of `consensus.ready`: `messages` leave at once,
`messages_after_persist` only once the Ready is in storage; a crash drops the Raft object and
everything not yet in storage.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from consensus.messages import Message
from consensus.raft import Raft, RaftConfig, Role
from consensus.ready import ReadState, Ready
from consensus.storage import InMemoryStorage
from consensus.types import Configuration, Entry, HardState, Index, NodeId, Term


def node_ids(count: int) -> list[NodeId]:
    return [NodeId(f"n{i}") for i in range(1, count + 1)]


@dataclass
class StateMachine:
    """Applies committed entries: the payloads of the normal entries, in log order."""

    applied_index: int = 0
    payloads: list[bytes] = field(default_factory=list)

    def apply(self, entry: Entry) -> None:
        if entry.index != self.applied_index + 1:
            raise AssertionError(f"applying {entry.index} after {self.applied_index}")
        self.applied_index = entry.index
        if entry.data and entry.change is None:
            self.payloads.append(entry.data)

    def snapshot_data(self) -> bytes:
        return json.dumps([payload.hex() for payload in self.payloads]).encode()

    @classmethod
    def from_snapshot(cls, index: int, data: bytes) -> StateMachine:
        payloads = [bytes.fromhex(item) for item in json.loads(data)] if data else []
        return cls(index, payloads)


class Node:
    def __init__(
        self,
        node_id: NodeId,
        storage: InMemoryStorage,
        config: RaftConfig,
        seed: int,
        raft_class: type[Raft] = Raft,
    ) -> None:
        self.id = node_id
        self.raft_class = raft_class
        self.storage = storage
        self.config = config
        self.rng = random.Random(seed)
        self.raft: Raft | None = None
        self.state_machine = StateMachine()
        self.read_states: list[ReadState] = []
        self.restart()

    @property
    def alive(self) -> bool:
        return self.raft is not None

    @property
    def node(self) -> Raft:
        if self.raft is None:
            raise AssertionError(f"{self.id} is down")
        return self.raft

    def crash(self) -> None:
        self.raft = None

    def restart(self) -> None:
        """Come back from storage only: the Raft state and the state machine's snapshot."""
        self.raft = self.raft_class(self.config, self.storage, self.rng)
        snapshot = self.storage.snapshot()
        self.state_machine = StateMachine.from_snapshot(snapshot.index, snapshot.data)

    def persist_and_apply(self, ready: Ready) -> tuple[Message, ...]:
        """Steps 2-4 of the contract; returns the messages that may leave now."""
        self.storage.persist(ready)
        if ready.snapshot is not None:
            self.state_machine = StateMachine.from_snapshot(ready.snapshot.index, ready.snapshot.data)
        for entry in ready.committed_entries:
            self.state_machine.apply(entry)
        self.read_states.extend(ready.read_states)
        self.node.advance(ready)
        return ready.messages_after_persist

    def compact(self) -> None:
        """Log compaction at the applied index (Raft 7)."""
        index = Index(self.state_machine.applied_index)
        if index > self.storage.snapshot().index:
            configuration = self.node.log.configuration_at(index)
            self.storage.compact(index, configuration, self.state_machine.snapshot_data())

    def log_terms(self) -> list[tuple[int, int]]:
        """(index, term) of every durable entry, for comparing logs."""
        return [
            (e.index, e.term)
            for e in self.storage.entries(self.storage.first_index(), Index(self.storage.last_index() + 1))
        ]


class Cluster:
    """Nodes over a FIFO network the test drives; `cut` links drop messages (one way each)."""

    def __init__(
        self,
        count: int = 3,
        *,
        seed: int = 0,
        pre_vote: bool = True,
        check_quorum: bool = True,
        raft_class: type[Raft] = Raft,
        **tunables: int,
    ) -> None:
        ids = node_ids(count)
        self._raft_class = raft_class
        self.nodes: dict[NodeId, Node] = {}
        self.in_flight: list[Message] = []
        self.delivered: list[Message] = []
        self.cut: set[tuple[NodeId, NodeId]] = set()
        self._tunables = dict(tunables)
        self._pre_vote = pre_vote
        self._check_quorum = check_quorum
        self._seed = seed
        for node_id in ids:
            self.add_node(node_id, Configuration(frozenset(ids)))

    def add_node(self, node_id: NodeId, configuration: Configuration) -> Node:
        config = RaftConfig(
            node_id, pre_vote=self._pre_vote, check_quorum=self._check_quorum, **self._tunables
        )
        seed = self._seed * 1000 + len(self.nodes)
        node = Node(node_id, InMemoryStorage(configuration), config, seed, self._raft_class)
        self.nodes[node_id] = node
        return node

    def __getitem__(self, node_id: str) -> Raft:
        return self.nodes[NodeId(node_id)].node

    def load_log(self, node_id: str, terms: list[int], *, term: int, uncommittable_from: int = 0) -> None:
        """Give a node a durable log with entries of these terms (index 1, 2, ...) and restart it.
        Entries are committable, except from index `uncommittable_from` on when it is set."""
        node = self.nodes[NodeId(node_id)]
        entries = [
            Entry(
                Term(t),
                Index(i),
                f"{node_id}@{i}.{t}".encode(),
                committable=not uncommittable_from or i < uncommittable_from,
            )
            for i, t in enumerate(terms, start=1)
        ]
        node.storage.append(entries)
        node.storage.set_hard_state(HardState(Term(term), None, Index(0)))
        node.restart()

    # The network

    def isolate(self, node_id: str, *, inbound: bool = True, outbound: bool = True) -> None:
        for other in self.nodes:
            if other != node_id:
                if outbound:
                    self.cut.add((NodeId(node_id), other))
                if inbound:
                    self.cut.add((other, NodeId(node_id)))

    def partition(self, *groups: Iterable[str]) -> None:
        sets = [set(group) for group in groups]
        for a in self.nodes:
            for b in self.nodes:
                if a != b and not any(a in group and b in group for group in sets):
                    self.cut.add((a, b))

    def heal(self) -> None:
        self.cut.clear()

    def _post(self, messages: Iterable[Message]) -> None:
        self.in_flight.extend(m for m in messages if (m.src, m.dst) not in self.cut)

    # Driving

    def process(self, node_id: NodeId) -> None:
        node = self.nodes[node_id]
        while node.alive and node.node.has_ready():
            ready = node.node.ready()
            self._post(ready.messages)
            self._post(node.persist_and_apply(ready))

    def stabilize(self, max_messages: int = 100_000) -> None:
        """Deliver messages until the network is quiet."""
        self.run_until(lambda: False, max_messages)

    def run_until(self, condition: Callable[[], bool], max_messages: int = 100_000) -> bool:
        """Deliver messages one at a time until `condition()` holds (True) or the network is quiet."""
        for node_id in self.nodes:
            self.process(node_id)
        for _ in range(max_messages):
            if condition():
                return True
            if not self.in_flight:
                return False
            message = self.in_flight.pop(0)
            target = self.nodes.get(message.dst)
            if target is None or not target.alive or (message.src, message.dst) in self.cut:
                continue
            self.delivered.append(message)
            target.node.step(message)
            self.process(message.dst)
        raise AssertionError("the network never became quiet")

    def drop_in_flight(self) -> None:
        self.in_flight.clear()

    def tick(self, ticks: int = 1, *, only: Iterable[str] | None = None) -> None:
        chosen = [NodeId(n) for n in only] if only is not None else list(self.nodes)
        for _ in range(ticks):
            for node_id in chosen:
                if self.nodes[node_id].alive:
                    self.nodes[node_id].node.tick()
            self.stabilize()

    def elect(self, node_id: str) -> None:
        self[node_id].campaign()
        self.stabilize()
        assert self[node_id].role is Role.LEADER

    def propose(self, node_id: str, *payloads: bytes, committable: bool = True) -> Index:
        index = self[node_id].propose(list(payloads), committable=committable)
        self.stabilize()
        return index

    def role(self, node_id: str) -> Role:
        return self[node_id].role

    def leaders(self) -> list[NodeId]:
        return [n for n, node in self.nodes.items() if node.alive and node.node.role is Role.LEADER]

    def terms(self) -> dict[NodeId, Term]:
        return {n: node.node.term for n, node in self.nodes.items() if node.alive}

    def payloads(self, node_id: str) -> list[bytes]:
        return self.nodes[NodeId(node_id)].state_machine.payloads
