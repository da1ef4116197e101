"""`scripts/bench --quick` keeps working: a fresh 3-node network, every workload, figures and checks.

The benchmark is not part of the test suite; this only runs it briefly, without etcd."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
DEADLINE_SECONDS = 240


def run_bench(tmp_path: Path, *options: str) -> tuple[str, list[dict[str, Any]]]:
    """`scripts/bench` with `options`: its output, and the runs of its `--json` figures."""
    figures_file = tmp_path / "figures.json"
    bench = subprocess.Popen(
        [str(ROOT / "scripts" / "bench"), *options, "--json", str(figures_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its nodes too can be stopped if it hangs
    )
    try:
        output, _ = bench.communicate(timeout=DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(bench.pid, signal.SIGTERM)
        output, _ = bench.communicate()
        pytest.fail(f"scripts/bench did not finish in {DEADLINE_SECONDS}s:\n{output}")
    assert bench.returncode == 0, output
    assert "tx/s" in output and "p99 ms" in output
    runs: list[dict[str, Any]] = json.loads(figures_file.read_text())["runs"]
    for run in runs:
        assert run["system"] == "sealchain"
        assert run["completed"] > 0 and run["throughput"] > 0, run
        assert run["failed"] == 0 and run["lost"] == [], run
        assert 0 < run["p50_ms"] <= run["p90_ms"] <= run["p99_ms"] <= run["max_ms"], run
    return output, runs


def test_quick_benchmark_measures_every_workload_and_loses_nothing(tmp_path: Path) -> None:
    _, runs = run_bench(tmp_path, "--quick", "--duration", "2")
    assert {(run["workload"], run["concurrency"]) for run in runs} == {
        (workload, concurrency) for workload in ("puts", "gets", "smallbank") for concurrency in (1, 64)
    }


def test_the_benchmark_can_drive_sealchain_with_unary_calls(tmp_path: Path) -> None:
    output, runs = run_bench(
        tmp_path,
        "--unary-calls",
        "--workload",
        "puts",
        "--workload",
        "smallbank",
        "--concurrency",
        "8",
        "--duration",
        "1",
    )
    assert "unary" in output
    assert {(run["workload"], run["concurrency"]) for run in runs} == {("puts", 8), ("smallbank", 8)}
