"""The benchmark's plan: fresh systems, then every workload at every concurrency on every system, interleaved
(sealchain, then etcd, at the same concurrency, before moving on), each run checked for lost writes."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from node.config import ConsensusSettings
from sealchain.benchmark.figures import RunFigures
from sealchain.benchmark.loadgen import ClientProcesses
from sealchain.benchmark.systems import EtcdCluster, SealchainNetwork, ensure_etcd
from sealchain.benchmark.targets import TargetSpec
from sealchain.benchmark.workloads import Acknowledged, Workload

# One client process keeps up with this many outstanding requests before its core saturates.
CLIENTS_PER_PROCESS = 64
ETCD_MEMBERS = 3


@dataclass(frozen=True, slots=True)
class BenchSettings:
    nodes: int = 3
    workloads: tuple[Workload, ...] = tuple(Workload)
    concurrencies: tuple[int, ...] = (1, 16, 64, 256)
    seconds: float = 10.0
    warmup_seconds: float = 2.0
    vs_etcd: bool = False
    max_client_processes: int = 4
    # Every node's endpoint (clients spread over them), or only the first (as sealchain's Client does).
    first_node_only: bool = False
    # sealchain's clients make one unary call per request (as `Client`) instead of sharing `Client.Stream`.
    unary_calls: bool = False
    seed: int = 1
    consensus: ConsensusSettings = field(default_factory=ConsensusSettings)

    def describe(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "tick ms": self.consensus.tick_interval_ms,
            "signature every ms": self.consensus.signature_interval_ms,
            "or txs": self.consensus.signature_interval_txs,
            "in-flight appends": self.consensus.max_inflight_appends,
            "clients to": "the first node" if self.first_node_only else "every node",
            "sealchain calls": "unary" if self.unary_calls else "Client.Stream",
            "seconds per run": self.seconds,
            "warm-up": self.warmup_seconds,
            "fsync": "on",
            "value bytes": 100,
            "cpus": os.cpu_count(),
        }


def client_processes(concurrency: int, most: int) -> int:
    return max(1, min(most, math.ceil(concurrency / CLIENTS_PER_PROCESS)))


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds used so far by the processes `pids` (Linux /proc; 0 for one gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


class System:
    """A started system under test: its name, how clients reach it, its processes."""

    def __init__(
        self, name: str, spec: TargetSpec, runner: SealchainNetwork | EtcdCluster, first_node_only: bool
    ) -> None:
        self.name = name
        self.spec = dataclasses.replace(spec, addresses=spec.addresses[:1]) if first_node_only else spec
        self.runner = runner
        # SmallBank's money is checked against every acknowledged change since the accounts opened.
        self.acked_money = Acknowledged()


def run_benchmark(settings: BenchSettings, console: Console) -> list[RunFigures]:
    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sealchain-bench-")))
        systems: list[System] = []
        network = SealchainNetwork(root / "sealchain", settings.nodes, settings.consensus)
        stack.callback(network.close)
        with console.status(f"starting a {settings.nodes}-node sealchain network (fsync on, TLS on)"):
            spec = dataclasses.replace(network.start(), unary_calls=settings.unary_calls)
            systems.append(System(network.name, spec, network, settings.first_node_only))
        if settings.vs_etcd:
            cluster = EtcdCluster(root / "etcd", ETCD_MEMBERS, ensure_etcd(console.print))
            stack.callback(cluster.close)
            with console.status(f"starting a {ETCD_MEMBERS}-member etcd cluster (fsync on)"):
                systems.append(System(cluster.name, cluster.start(), cluster, settings.first_node_only))
        pool = stack.enter_context(ClientProcesses(settings.max_client_processes))
        figures = _run_all(settings, systems, pool, console)
    return figures


def _run_all(
    settings: BenchSettings, systems: list[System], pool: ClientProcesses, console: Console
) -> list[RunFigures]:
    plan = [
        (workload, concurrency, system)
        for workload in settings.workloads
        for concurrency in settings.concurrencies
        for system in systems
    ]
    figures: list[RunFigures] = []
    prepared: set[tuple[Workload, str]] = set()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("benchmark", total=len(plan))
        for workload, concurrency, system in plan:
            if (workload, system.name) not in prepared:
                progress.update(task, description=f"{system.name}: preparing {workload}")
                pool.prepare(system.spec, workload, workload.value)
                prepared.add((workload, system.name))
            progress.update(task, description=f"{system.name}: {workload} x{concurrency}")
            figures.append(_one_run(settings, system, pool, workload, concurrency))
            progress.advance(task)
    return figures


def _one_run(
    settings: BenchSettings, system: System, pool: ClientProcesses, workload: Workload, concurrency: int
) -> RunFigures:
    # Puts write fresh keys per run (each run's are checked); gets and SmallBank use what was prepared.
    tag = f"{workload}-c{concurrency}" if workload is Workload.PUTS else workload.value
    processes = client_processes(concurrency, settings.max_client_processes)
    pids = system.runner.pids()
    server_cpu_before, started = cpu_seconds(pids), time.monotonic()
    share = pool.run(
        system.spec,
        workload,
        tag,
        concurrency=concurrency,
        processes=processes,
        warmup_seconds=settings.warmup_seconds,
        seconds=settings.seconds,
        seed=settings.seed,
    )
    server_cpu = (cpu_seconds(pids) - server_cpu_before) / (time.monotonic() - started)
    if workload is Workload.SMALLBANK:
        system.acked_money.absorb(share.acked)
        lost = pool.verify(system.spec, workload, tag, system.acked_money)
    else:
        lost = pool.verify(system.spec, workload, tag, share.acked)
    return RunFigures.measured(
        system=system.name,
        workload=workload.value,
        concurrency=concurrency,
        seconds=settings.seconds,
        latencies=share.latencies,
        failures=dict(share.failures),
        failure_examples=share.examples,
        refused=share.acked.refused,
        lost=lost,
        client_processes=processes,
        client_cpu_seconds=share.cpu_seconds,
        server_cpu_percent=100 * server_cpu,
    )
