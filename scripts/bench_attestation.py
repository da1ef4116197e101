"""Micro-benchmark of the simulated TEE platforms (issue 3).

For each backend: evidence generation and verification (chain to the pinned root, report signature,
policy) per second, and sealing and unsealing of a payload per second. One operation at a time on one
core; prints throughput and latency percentiles.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial

from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy, public_key_der
from enclave.platform.api import PlatformName
from enclave.platform.backends import open_platform
from enclave.platform.policy import TrustPolicy, report_data_for, verify_evidence
from enclave.platform.provisioning import create_vendor_roots, provision_machine
from node.platform_files import trusted_code_measurement


@dataclass(frozen=True)
class Result:
    backend: str
    operation: str
    iterations: int
    per_second: float
    p50_us: float
    p90_us: float
    p99_us: float


def measure(backend: str, operation: str, iterations: int, action: Callable[[], object]) -> Result:
    latencies = []
    started = time.perf_counter()
    for _ in range(iterations):
        before = time.perf_counter()
        action()
        latencies.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    p50, p90, p99 = (cuts[percentile - 1] * 1e6 for percentile in (50, 90, 99))
    return Result(backend, operation, iterations, iterations / elapsed, p50, p90, p99)


def run(iterations: int, payload_size: int) -> list[Result]:
    now = datetime.now(UTC)
    roots = create_vendor_roots(now=now, random_bytes=os.urandom)
    machine = provision_machine("bench", roots, now=now, random_bytes=os.urandom)
    measurement = trusted_code_measurement()
    policy = TrustPolicy(
        roots={name: root.certificate for name, root in roots.items()},
        allowed_measurements=frozenset({measurement}),
    )
    node_key = public_key_der(identity_key_from_entropy(os.urandom(MIN_ENTROPY_BYTES)).public_key())
    report_data = report_data_for(node_key)
    payload = os.urandom(payload_size)
    results = []
    for name in PlatformName:
        platform = open_platform(name, machine, measurement, os.urandom)
        evidence = platform.evidence(report_data)
        sealed = platform.seal(payload, b"bench")
        verify = partial(verify_evidence, evidence, policy, identity_public_key_der=node_key, at=now)
        results += [
            measure(name, "evidence", iterations, partial(platform.evidence, report_data)),
            measure(name, "verify", iterations, verify),
            measure(name, f"seal {payload_size} B", iterations, partial(platform.seal, payload, b"bench")),
            measure(name, f"unseal {payload_size} B", iterations, partial(platform.unseal, sealed, b"bench")),
        ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=500, help="operations per measurement (500)")
    parser.add_argument("--payload", type=int, default=1024, help="bytes sealed and unsealed (1024)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    arguments = parser.parse_args()
    if arguments.iterations < 2:
        parser.error("--iterations must be at least 2")
    results = run(arguments.iterations, arguments.payload)
    if arguments.json:
        print(json.dumps([asdict(result) for result in results], indent=2))
        return
    print(f"{'backend':<8} {'operation':<14} {'ops/s':>10} {'p50 us':>9} {'p90 us':>9} {'p99 us':>9}")
    for result in results:
        latencies = f"{result.p50_us:>9.1f} {result.p90_us:>9.1f} {result.p99_us:>9.1f}"
        print(f"{result.backend:<8} {result.operation:<14} {result.per_second:>10.0f} {latencies}")


if __name__ == "__main__":
    main()
