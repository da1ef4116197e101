"""A narrated run of the Raft core (consensus/) on three in-process nodes over an in-memory network:
election, replication, a partitioned leader, a new election, healing and catch-up.

    scripts/sandbox [--seed N]
"""

from __future__ import annotations

import argparse
import random
from collections import deque
from collections.abc import Callable

from consensus.errors import NotLeaderError
from consensus.messages import Message
from consensus.raft import Raft, RaftConfig, Role
from consensus.storage import InMemoryStorage
from consensus.types import Configuration, Index, NodeId


class Network:
    """Three nodes, a FIFO network, and links that can be cut."""

    def __init__(self, seed: int) -> None:
        self.ids = [NodeId(f"node{i}") for i in range(3)]
        rng = random.Random(seed)
        configuration = Configuration(frozenset(self.ids))
        self.storages = {node: InMemoryStorage(configuration) for node in self.ids}
        self.nodes = {
            node: Raft(RaftConfig(node), self.storages[node], random.Random(rng.random()))
            for node in self.ids
        }
        self.queue: deque[Message] = deque()
        self.cut: set[NodeId] = set()
        self.ticks = 0
        self.applied: dict[NodeId, list[str]] = {node: [] for node in self.ids}

    def settle(self) -> None:
        """Handle every Ready and deliver every message until the network is quiet."""
        while True:
            for node_id, raft in self.nodes.items():
                while raft.has_ready():
                    ready = raft.ready()
                    self.queue.extend(ready.messages)
                    self.storages[node_id].persist(ready)
                    self.queue.extend(ready.messages_after_persist)
                    self.applied[node_id] += [e.data.decode() for e in ready.committed_entries if e.data]
                    raft.advance(ready)
            if not self.queue:
                return
            while self.queue:
                message = self.queue.popleft()
                if message.src not in self.cut and message.dst not in self.cut:
                    self.nodes[message.dst].step(message)

    def tick_until(self, done: str, condition: Callable[[], bool]) -> None:
        for _ in range(200):
            if condition():
                return
            self.ticks += 1
            for raft in self.nodes.values():
                raft.tick()
            self.settle()
        raise SystemExit(f"gave up waiting for {done}")

    def leader(self, among: list[NodeId] | None = None) -> Raft | None:
        for node_id in among or self.ids:
            if self.nodes[node_id].role is Role.LEADER:
                return self.nodes[node_id]
        return None


def say(network: Network, text: str) -> None:
    print(f"[tick {network.ticks:>3}] {text}")


def show_commits(network: Network) -> None:
    for node_id, raft in network.nodes.items():
        print(f"           {node_id}: commit index {raft.commit_index}, applied {network.applied[node_id]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1, help="seeds every node's election timeouts")
    args = parser.parse_args()
    network = Network(args.seed)
    print(f"Three Raft nodes ({', '.join(network.ids)}), PreVote and CheckQuorum on, seed {args.seed}.")

    network.tick_until("a leader", lambda: network.leader() is not None)
    leader = network.leader()
    assert leader is not None
    say(network, f"{leader.id} won the election and leads term {leader.term}")

    leader.propose([b"x=1", b"y=2", b"signature"], committable=True)
    network.settle()
    say(network, f"{leader.id} proposed x=1, y=2 and a committable signature entry; all replicated:")
    show_commits(network)

    old = leader
    network.cut.add(old.id)
    say(network, f"the network cuts {old.id} off")
    old.propose([b"lost=1", b"signature"], committable=True)
    network.settle()
    say(network, f"{old.id} still thinks it leads and proposes lost=1; nobody gets it")
    others = [node for node in network.ids if node != old.id]
    network.tick_until("a new leader", lambda: network.leader(others) is not None)
    new = network.leader(others)
    assert new is not None
    say(network, f"{new.id} won the election and leads term {new.term}")
    new.propose([b"z=3", b"signature"], committable=True)
    network.settle()
    say(network, f"{new.id} proposed z=3; the majority commits it:")
    show_commits(network)
    network.tick_until("the old leader to step down", lambda: old.role is not Role.LEADER)
    say(network, f"{old.id} heard from no majority for an election timeout: it stepped down (CheckQuorum)")
    try:
        old.propose([b"w=4"], committable=True)
    except NotLeaderError as error:
        say(network, f"{old.id} now refuses proposals: {error}")

    network.cut.clear()
    say(network, "the partition heals")
    network.tick_until("the old leader to catch up", lambda: old.commit_index == new.commit_index)
    say(network, f"{old.id} caught up: its uncommitted lost=1 was replaced by the leader's log")
    print()
    print("Final logs (index:term, * = committable):")
    for node_id, raft in network.nodes.items():
        entries = raft.log.entries(raft.log.first_index(), Index(raft.log.last_index() + 1))
        log = " ".join(
            f"{e.index}:{e.term}{'*' if e.committable else ''}{'=' + e.data.decode() if e.data else ''}"
            for e in entries
        )
        print(f"  {node_id} ({raft.role.value}, term {raft.term}, commit {raft.commit_index}): {log}")


if __name__ == "__main__":
    main()
