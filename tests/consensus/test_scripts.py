"""The consensus demo and benchmark scripts run, and the demo tells the same story for a seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run_script(name: str, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *arguments], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode()


def test_the_demo_narrates_an_election_a_partition_and_the_catch_up_deterministically() -> None:
    story = run_script("consensus_demo.py", "--seed", "5")
    assert "won the election and leads term 1" in story
    assert "stepped down (CheckQuorum)" in story
    assert "caught up" in story
    assert run_script("consensus_demo.py", "--seed", "5") == story


def test_the_benchmark_reports_throughput_and_latency_percentiles() -> None:
    report = run_script("bench_consensus.py", "--entries", "300")
    assert "entries/s" in report
    assert "p99 us" in report
    assert len(report.strip().splitlines()) == 6  # title, header, 3 and 5 nodes x batches of 1 and 100
