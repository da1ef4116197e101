"""The load generator: client processes, each an asyncio loop holding many requests outstanding.

A run of `concurrency` clients is split over `processes` worker processes (spawned once, reused by every
run), so one Python process saturating a core does not cap the figures. Every client is a coroutine that
sends its next request as soon as the previous one is acknowledged (a closed loop). Requests completed
during the warm-up are not measured (connections, TLS handshakes, the nodes' first batches), but what
they wrote is still checked at the end. Each worker reports the CPU its process used during the
measured window.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

from sealchain.benchmark import workloads
from sealchain.benchmark.targets import CallFailed, TargetSpec
from sealchain.benchmark.workloads import Acknowledged, Workload


@dataclass(frozen=True, slots=True)
class LoadJob:
    """One worker's share of a run: clients `first_client`.. `first_client + clients - 1`."""

    spec: TargetSpec
    workload: Workload
    tag: str
    first_client: int
    clients: int
    warmup_seconds: float
    seconds: float
    seed: int


@dataclass(slots=True)
class LoadShare:
    """What one worker measured: latencies (seconds) of requests completed in the measured window,
    failures by code (with examples), what it had acknowledged, its CPU seconds in the window."""

    latencies: list[float] = field(default_factory=list)
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: dict[str, str] = field(default_factory=dict)
    acked: Acknowledged = field(default_factory=Acknowledged)
    cpu_seconds: float = 0.0

    def absorb(self, other: LoadShare) -> None:
        self.latencies.extend(other.latencies)
        self.failures.update(other.failures)
        for code, example in other.examples.items():
            self.examples.setdefault(code, example)
        self.acked.absorb(other.acked)
        self.cpu_seconds += other.cpu_seconds


def run_load_job(job: LoadJob) -> LoadShare:
    """The entry point of a worker process for one share of a run."""
    return asyncio.run(_load(job))


async def _load(job: LoadJob) -> LoadShare:
    target = job.spec.connect()
    share = LoadShare()
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + job.warmup_seconds
    stop = measure_from + job.seconds

    async def client(index: int) -> None:
        rng = random.Random(job.seed * 1_000_003 + index)
        sequence = 0
        while (started := loop.time()) < stop:
            try:
                await workloads.operate(
                    job.workload, target, job.tag, client=index, sequence=sequence, rng=rng, acked=share.acked
                )
            except CallFailed as failure:
                share.failures[failure.code] += 1
                share.examples.setdefault(failure.code, failure.message)
            else:
                finished = loop.time()
                if started >= measure_from and finished <= stop:
                    share.latencies.append(finished - started)
            sequence += 1

    async def cpu_meter() -> None:
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        cpu_at_start = time.process_time()
        await asyncio.sleep(max(0.0, stop - loop.time()))
        share.cpu_seconds = time.process_time() - cpu_at_start

    try:
        clients = range(job.first_client, job.first_client + job.clients)
        await asyncio.gather(cpu_meter(), *(client(i) for i in clients))
    finally:
        await target.close()
    return share


def prepare_job(spec: TargetSpec, workload: Workload, tag: str) -> None:
    """Worker entry point: `workloads.prepare`."""

    async def prepare() -> None:
        target = spec.connect()
        try:
            await workloads.prepare(workload, target, tag)
        finally:
            await target.close()

    asyncio.run(prepare())


def verify_job(spec: TargetSpec, workload: Workload, tag: str, acked: Acknowledged) -> list[str]:
    """Worker entry point: `workloads.verify`; a failure to read back is itself a finding."""

    async def verify() -> list[str]:
        target = spec.connect()
        try:
            return await workloads.verify(workload, target, tag, acked)
        except CallFailed as failure:
            return [f"could not read back what was acknowledged: {failure}"]
        finally:
            await target.close()

    return asyncio.run(verify())


class ClientProcesses:
    """The pool of load generator processes (spawned: no gRPC state is inherited across a fork)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))

    def prepare(self, spec: TargetSpec, workload: Workload, tag: str) -> None:
        self._pool.submit(prepare_job, spec, workload, tag).result()

    def verify(self, spec: TargetSpec, workload: Workload, tag: str, acked: Acknowledged) -> list[str]:
        return self._pool.submit(verify_job, spec, workload, tag, acked).result()

    def run(
        self,
        spec: TargetSpec,
        workload: Workload,
        tag: str,
        *,
        concurrency: int,
        processes: int,
        warmup_seconds: float,
        seconds: float,
        seed: int,
    ) -> LoadShare:
        """`concurrency` clients over `processes` workers (at most the pool's), for `seconds` measured."""
        processes = max(1, min(processes, self.processes, concurrency))
        bounds = [concurrency * i // processes for i in range(processes + 1)]
        jobs = [
            LoadJob(spec, workload, tag, first, last - first, warmup_seconds, seconds, seed)
            for first, last in itertools.pairwise(bounds)
        ]
        futures = [self._pool.submit(run_load_job, job) for job in jobs]
        total = LoadShare()
        for future in futures:
            total.absorb(future.result())
        return total

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> ClientProcesses:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
