"""scripts/bench-grpc (the transport floor docs/performance.md cites) keeps running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_grpc.py"


def test_the_transport_benchmark_reports_cpu_per_operation_for_each_transport() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--calls", "200", "--messages", "200", "--rate", "5000"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    lines = done.stdout.decode().splitlines()
    assert "client us" in lines[1] and "server us" in lines[1]
    rows = {line[:36].strip(): line[36:].split() for line in lines[2:]}
    assert len(rows) == 5
    assert {name.split(",")[0] for name in rows} == {
        "gRPC unary call",
        "Client.Stream call",
        "gRPC stream message",
        "asyncio TLS frame",
    }
    for operations, _, client_us, server_us, *_ in rows.values():
        assert operations == "200"
        assert int(client_us) >= 0 and int(server_us) >= 0
    # CPU is read in clock ticks (10 ms): only the unary calls are sure to use several here.
    operations, _, client_us, server_us, p50_ms, p99_ms = rows["gRPC unary call, 64 outstanding"]
    assert int(client_us) > 0 and int(server_us) > 0
    assert 0 < float(p50_ms) <= float(p99_ms)
