"""Throughput and commit latency of the consensus core: an in-process cluster over an in-memory
network, all nodes in one thread, no disk. Each round the leader proposes one batch (the last entry
of each batch committable, as a CCF signature ends a batch), then every node handles its Ready and
the messages of the previous round are delivered.

    scripts/bench-consensus [--entries N] [--payload-size BYTES]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import deque
from dataclasses import dataclass

from consensus.messages import Message
from consensus.raft import Raft, RaftConfig, Role
from consensus.storage import InMemoryStorage
from consensus.types import Configuration, Index, NodeId


@dataclass(frozen=True)
class Result:
    nodes: int
    batch: int
    entries: int
    seconds: float
    latency_us: list[float]
    latency_rounds: list[int]


class Cluster:
    def __init__(self, count: int, seed: int) -> None:
        ids = [NodeId(f"n{i}") for i in range(1, count + 1)]
        configuration = Configuration(frozenset(ids))
        rng = random.Random(seed)
        self.storages = {node: InMemoryStorage(configuration) for node in ids}
        self.nodes = {
            node: Raft(
                RaftConfig(node, max_append_entries=4096, max_inflight=256),
                self.storages[node],
                random.Random(rng.random()),
            )
            for node in ids
        }
        self.network: deque[Message] = deque()

    def handle_readies(self) -> None:
        for node_id, raft in self.nodes.items():
            while raft.has_ready():
                ready = raft.ready()
                self.network.extend(ready.messages)
                self.storages[node_id].persist(ready)
                self.network.extend(ready.messages_after_persist)
                raft.advance(ready)

    def round(self) -> None:
        """Every node handles its Ready, then the messages sent so far are delivered."""
        self.handle_readies()
        for _ in range(len(self.network)):
            message = self.network.popleft()
            self.nodes[message.dst].step(message)

    def elect(self, node: NodeId) -> Raft:
        leader = self.nodes[node]
        leader.campaign()
        while leader.role is not Role.LEADER or leader.commit_index == 0:
            self.round()
        return leader


def run(nodes: int, batch: int, entries: int, payload_size: int, seed: int) -> Result:
    cluster = Cluster(nodes, seed)
    leader = cluster.elect(NodeId("n1"))
    payloads = [bytes([i % 256]) * payload_size for i in range(batch)]
    outstanding: deque[tuple[Index, float, int]] = deque()
    latency_us: list[float] = []
    latency_rounds: list[int] = []
    proposed = 0
    rounds = 0
    start = time.perf_counter()
    while proposed < entries or outstanding:
        if proposed < entries:
            last = leader.propose(payloads, committable=True)
            outstanding.append((last, time.perf_counter(), rounds))
            proposed += batch
        cluster.round()
        rounds += 1
        now = time.perf_counter()
        while outstanding and outstanding[0][0] <= leader.commit_index:
            _, proposed_at, proposed_round = outstanding.popleft()
            latency_us.append((now - proposed_at) * 1e6)
            latency_rounds.append(rounds - proposed_round)
    seconds = time.perf_counter() - start
    return Result(nodes, batch, proposed, seconds, latency_us, latency_rounds)


def percentile(values: list[float] | list[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000, help="entries per run (default 100000)")
    parser.add_argument("--payload-size", type=int, default=100, help="bytes per entry (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"consensus core, in-memory cluster, {args.payload_size}-byte entries, one process, one thread")
    header = f"{'nodes':>5} {'batch':>5} {'entries':>8} {'entries/s':>11} {'p50 us':>9} {'p90 us':>9}"
    print(f"{header} {'p99 us':>9} {'p50 rounds':>10} {'p99 rounds':>10}")
    for nodes in (3, 5):
        for batch in (1, 100):
            entries = args.entries if batch > 1 else max(1, args.entries // 10)
            result = run(nodes, batch, entries, args.payload_size, args.seed)
            print(
                f"{result.nodes:>5} {result.batch:>5} {result.entries:>8} "
                f"{result.entries / result.seconds:>11,.0f} "
                f"{percentile(result.latency_us, 0.5):>9,.0f} {percentile(result.latency_us, 0.9):>9,.0f} "
                f"{percentile(result.latency_us, 0.99):>9,.0f} "
                f"{statistics.median(result.latency_rounds):>10.0f} "
                f"{percentile(result.latency_rounds, 0.99):>10.0f}"
            )


if __name__ == "__main__":
    main()
