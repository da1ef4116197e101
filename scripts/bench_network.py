"""Network benchmark: a real local network (node processes, gRPC with TLS, fsync per batch) under a put
load from several client threads. Prints committed puts per second and latency percentiles for each client
concurrency. Every put waits until it is Committed (a signature transaction covers it on a majority).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from node.config import ConsensusSettings
from node.network import LocalNetwork, bring_up
from sealchain.client import Client, ClientError, TxStatus
from sealchain.governance import GovernanceClient, MemberSigner, activate_and_open
from sealchain.workspace import Workspace, prepare_network_workspace

VALUE = b"v" * 100


def run_load(clients: list[Client], seconds: float) -> tuple[int, int, list[float]]:
    """Each client puts in a loop for `seconds`; (committed, failed, latencies in seconds)."""
    latencies: list[float] = []
    counts = {"committed": 0, "failed": 0}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(index: int, client: Client) -> None:
        i = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                result = client.put("bench", b"k-%d-%d" % (index, i), VALUE)
            except ClientError:
                with lock:
                    counts["failed"] += 1
                continue
            elapsed = time.perf_counter() - started
            i += 1
            with lock:
                if result.status is TxStatus.COMMITTED:
                    counts["committed"] += 1
                    latencies.append(elapsed)
                else:
                    counts["failed"] += 1

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["committed"], counts["failed"], latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def open_service(network: LocalNetwork, workspace: Workspace) -> None:
    network.write_network_file(["member0"], ["user0"])
    with GovernanceClient.from_workspace(workspace.root, identity="member0") as governance:
        activate_and_open(governance, [MemberSigner.from_workspace(workspace, "member0")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--tick-ms", type=int, default=20, help="tick and signature interval of the nodes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        workspace = Workspace(root)
        identities = prepare_network_workspace(workspace, nodes=args.nodes, members=1, users=1)
        network = LocalNetwork(root)
        try:
            bring_up(
                network,
                args.nodes,
                identities,
                deadline=time.monotonic() + 120,
                open_service=lambda: open_service(network, workspace),
                consensus=ConsensusSettings(
                    tick_interval_ms=args.tick_ms, signature_interval_ms=args.tick_ms
                ),
            )
            print(
                f"{args.nodes} nodes (tick and signature interval {args.tick_ms} ms), "
                f"puts of {len(VALUE)} bytes, each waiting for commit, {args.seconds}s per concurrency"
            )
            print(f"{'clients':>8} {'puts/s':>9} {'failed':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
            for concurrency in args.concurrency:
                clients = [Client.from_workspace(root) for _ in range(concurrency)]
                committed, failed, latencies = run_load(clients, args.seconds)
                for client in clients:
                    client.close()
                if not latencies:
                    print(f"{concurrency:>8} {0:>9} {failed:>7}")
                    continue
                print(
                    f"{concurrency:>8} {committed / args.seconds:>9.1f} {failed:>7} "
                    f"{1000 * statistics.median(latencies):>8.1f} {1000 * percentile(latencies, 0.9):>8.1f} "
                    f"{1000 * percentile(latencies, 0.99):>8.1f}"
                )
        finally:
            network.stop_all()


if __name__ == "__main__":
    main()
