"""Whole-node deterministic simulation (DESIGN.md section 8): three real enclaves on a faulty network.

A failing seed prints the command that replays it alone.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import ccf.ledger
import pytest

from enclave.ledger.audit import audit_ledger
from enclave.ledger.entry import decode_entry
from enclave.ledger.tables import SIGNATURES
from enclave.runtime import messages as m
from node.ledger_files import LedgerFiles
from tests.sim.simulation import REPLAY_COMMAND, Removal, Simulation, SimulationFailure
from tests.sim.world import SETTINGS

FAST_SEEDS = range(5)
RETIRED = m.LifecycleState.RETIRED
# Odd seeds snapshot often, so nodes that crash and fall behind catch up from a snapshot (Raft's
# InstallSnapshot) instead of the ledger; even seeds never snapshot.
SNAPSHOTTING = replace(SETTINGS, snapshot_interval_txs=15)


def run_seed(seed: int) -> Simulation:
    simulation = Simulation(seed, settings=SNAPSHOTTING if seed % 2 else SETTINGS)
    try:
        simulation.run()
    except AssertionError as failure:
        raise AssertionError(
            f"seed {seed} failed: {failure}\nreplay: {REPLAY_COMMAND.format(seed=seed)}"
        ) from failure
    return simulation


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_a_faulty_network_keeps_every_acknowledged_write(seed: int) -> None:
    simulation = run_seed(seed)
    assert simulation.acknowledged, "the workload acknowledged no write at all"


def test_faults_actually_happen() -> None:
    """The fast seeds crash and restart nodes, change leaders, check reads, remove a follower and a
    primary and rekey the ledger, or they would prove little."""
    simulations = [run_seed(seed) for seed in FAST_SEEDS]
    assert sum(s.reads_checked for s in simulations) > 10
    assert all(s.crashes > 0 and s.restarts > 0 for s in simulations)
    assert any(
        max(h.enclave.node.rep.raft.term for h in s.hosts if h.enclave and h.enclave.node) > 2
        for s in simulations
    )
    assert {s.removal for s in simulations} == set(Removal)
    removing = [s for s in simulations if s.removal is not Removal.NONE]
    assert all(s.removed is not None and s.removal_done() for s in removing)
    assert any(s.state_of(s.removed) is RETIRED for s in removing if s.removed is not None)
    rekeying = [s for s in simulations if s.removal is Removal.NONE]
    assert rekeying and all(s.rekey_seqno is not None for s in rekeying)
    # A node catches up from a snapshot only when it crashed and fell behind a compaction: some seeds.
    snapshotting = (run_seed(seed) for seed in range(1, 40, 2))
    assert any(host.written.base > 0 for s in snapshotting for host in s.hosts), (
        "no node caught up from a snapshot"
    )


@pytest.mark.parametrize("seed", [2, 4])
def test_the_checker_catches_hosts_that_skip_fsync(seed: int) -> None:
    """Hosts that acknowledge Flush without syncing lose acknowledged entries in crashes: a node loses
    entries it committed, or the nodes then commit different entries at a seqno; the checker must say so."""
    with pytest.raises(SimulationFailure, match=r"committed different entries|committed .* but lost it"):
        Simulation(seed).run(honest_hosts=False)


def test_replay() -> None:
    """Replays the seed in SEALCHAIN_NODE_SIM_SEED (as printed by a failure)."""
    seed = os.environ.get("SEALCHAIN_NODE_SIM_SEED")
    if seed is None:
        pytest.skip("set SEALCHAIN_NODE_SIM_SEED to replay a seed")
    run_seed(int(seed))


def test_the_same_seed_gives_the_same_ledgers() -> None:
    first, second = run_seed(3), run_seed(3)
    assert [h.written.ledger for h in first.hosts] == [h.written.ledger for h in second.hosts]


@pytest.mark.slow
def test_many_seeds() -> None:
    count = int(os.environ.get("SEALCHAIN_NODE_SIM_SEEDS", "200"))
    for seed in range(100, 100 + count):
        run_seed(seed)


@pytest.mark.parametrize("seed", [3, 2])
def test_a_replicated_ledger_passes_our_audit_and_ccfs_validator(tmp_path: Path, seed: int) -> None:
    """The ledger of three nodes, with joins, elections, membership changes, crashes and truncations
    (seed 2: and the removal of the primary, which signs while Retired until it hands over), written
    by the host's `LedgerFiles`, verifies with `sealchain ledger verify`'s logic and CCF's."""
    simulation = run_seed(seed)
    host = next(h for h in simulation.serving()[1:] + simulation.serving() if h.written.base == 0)
    files = LedgerFiles(tmp_path, chunk_size=4096)
    for seqno, raw in enumerate(host.written.ledger, start=1):
        files.append(seqno, raw, SIGNATURES in decode_entry(raw).public_maps)
    files.flush()
    files.commit(host.committed)
    files.close()
    names = sorted(path.name for path in tmp_path.iterdir())
    report = audit_ledger(names, lambda name: (tmp_path / name).read_bytes())
    assert report.ok, report.failure
    assert report.last_verified is not None and report.last_verified.seqno == host.committed
    validator = ccf.ledger.LedgerValidator()
    for chunk in ccf.ledger.Ledger([str(tmp_path)], committed_only=False):
        for transaction in chunk:
            validator.add_transaction(transaction)  # type: ignore[no-untyped-call]
    assert validator.last_verified_txid().seqno == host.committed
