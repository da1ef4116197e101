"""The figures of one run: committed requests per second and latency percentiles, failures, client CPU."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 for none)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class RunFigures:
    """One system under one workload at one concurrency. Latencies in milliseconds; `throughput`:
    requests acknowledged per second of the measured window; `client_cpu_percent`: CPU used by the
    load generator's processes (100 = one core busy) in the measured window; `server_cpu_percent`: CPU
    used by the system's processes over the whole run, warm-up included; `failure_examples`: one message
    per failure code; `lost`: what the end-of-run check found missing."""

    system: str
    workload: str
    concurrency: int
    seconds: float
    completed: int
    throughput: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    failures: dict[str, int]
    failure_examples: dict[str, str]
    refused: int
    lost: tuple[str, ...]
    client_processes: int
    client_cpu_percent: float
    server_cpu_percent: float

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @classmethod
    def measured(
        cls,
        *,
        system: str,
        workload: str,
        concurrency: int,
        seconds: float,
        latencies: Sequence[float],
        failures: dict[str, int],
        failure_examples: dict[str, str],
        refused: int,
        lost: Sequence[str],
        client_processes: int,
        client_cpu_seconds: float,
        server_cpu_percent: float,
    ) -> RunFigures:
        ordered = sorted(latencies)
        return cls(
            system=system,
            workload=workload,
            concurrency=concurrency,
            seconds=seconds,
            completed=len(ordered),
            throughput=len(ordered) / seconds,
            p50_ms=1000 * percentile(ordered, 0.50),
            p90_ms=1000 * percentile(ordered, 0.90),
            p99_ms=1000 * percentile(ordered, 0.99),
            max_ms=1000 * (ordered[-1] if ordered else 0.0),
            failures=dict(failures),
            failure_examples=dict(failure_examples),
            refused=refused,
            lost=tuple(lost),
            client_processes=client_processes,
            client_cpu_percent=100 * client_cpu_seconds / seconds,
            server_cpu_percent=server_cpu_percent,
        )
