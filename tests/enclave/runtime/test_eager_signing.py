"""The primary signs as soon as no signature is in flight (enclave/runtime/replication.py, issue 9): a write
waits for one signature round, not for the signature interval, and one signature is in flight at a time."""

from __future__ import annotations

from tests.enclave.runtime.node_helpers import put, three_nodes
from tests.sim.simulation import Simulation


def settled_leader(simulation: Simulation) -> int:
    """The leader, once everything it holds is committed (no signature in flight)."""

    def settled() -> bool:
        leader = simulation.leader()
        if leader is None:
            return False
        replicator = simulation.running(leader).rep
        return replicator.ledger_commit == replicator.writer.last_txid.seqno

    simulation.run_until(settled, 100, "a settled leader")
    leader = simulation.leader()
    assert leader is not None
    return leader


def test_a_write_is_signed_at_once_and_the_next_one_when_that_signature_commits() -> None:
    simulation = three_nodes()
    leader = settled_leader(simulation)
    replicator = simulation.running(leader).rep

    simulation.give(leader, put(b"first", 700))
    first_signature = replicator.writer.last_txid.seqno
    assert replicator.writer.last_signature_seqno == first_signature, "the write waits for the interval"

    simulation.give(leader, put(b"second", 701))
    assert replicator.writer.unsigned_transactions == 1, "signed while a signature was in flight"

    # One replication round (two steps of 10 ms) commits the first signature, within the 30 ms interval;
    # the drain that commits it signs the second write.
    simulation.run_until(lambda: replicator.ledger_commit >= first_signature, 3, "the first signature")
    assert replicator.writer.last_signature_seqno == replicator.writer.last_txid.seqno > first_signature

    simulation.run_until(lambda: {700, 701} <= set(simulation.hosts[leader].answers), 3, "both answers")
