"""The nemesis run of the test suite (issue 10): 15 seconds of seeded faults on a real 3-node service
under concurrent clients, then heal and check (tests/nemesis/run.py). `scripts/nemesis --seed N` runs
longer ones; docs/testing.md says how to replay a failing seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nemesis.run import run_nemesis
from tests.nemesis.schedule import FaultKind, plan_faults

pytestmark = pytest.mark.slow

# Its 15 s schedule cuts the primary off both ways, kills node0, pauses it, kills node1.
SEED = 7
DURATION_SECONDS = 15.0


def test_a_seeded_nemesis_run_keeps_every_promise(tmp_path: Path) -> None:
    planned = plan_faults(SEED, DURATION_SECONDS, ["node0", "node1", "node2"])
    assert {FaultKind.ISOLATE, FaultKind.KILL, FaultKind.PAUSE} <= {fault.kind for fault in planned}

    report = run_nemesis(SEED, DURATION_SECONDS, tmp_path)  # fails, naming the seed, if a check fails

    print(f"\n{report.summary()}")
    assert sum(report.faults.values()) == len(planned), report.fault_log
    assert report.operations["write ok"] >= 100 and report.operations["read ok"] >= 100, report.operations
    assert report.transfers["ok"] >= 20, report.transfers
    assert len(report.checks) == 5
