"""Ledger rekey on three real enclaves: governance asks, the primary writes the new secret for each node into
the ledger, every node uses it after that entry, a restart learns it again from its own ledger, and a
truncated rekey is forgotten."""

from __future__ import annotations

from enclave.crypto.identity import NodeIdentity
from enclave.ledger.entry import decode_entry
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.runtime import messages as m
from enclave.runtime.rekey import LEDGER_SECRETS, RekeyRecordInvalid, learned_secret
from tests.enclave.runtime.node_helpers import three_nodes
from tests.enclave.runtime.test_node_removal import ask, committed, settle, write_through
from tests.sim.simulation import MAP, Simulation
from tests.sim.world import provisioned


def versions(simulation: Simulation, index: int) -> list[int]:
    return [start for start, _ in simulation.running(index).secrets.ledger_secrets.versions()]


def rekey_seqno(simulation: Simulation, index: int) -> int:
    """Where node `index`'s ledger carries the rekey."""
    for seqno, raw in enumerate(simulation.hosts[index].written.ledger, start=1):
        if LEDGER_SECRETS in decode_entry(raw).public_maps:
            return seqno
    raise AssertionError("no rekey in the ledger")


def test_a_rekey_hands_every_node_the_new_secret_which_encrypts_what_follows() -> None:
    simulation = three_nodes()
    before = [write_through(simulation, i, b"before-%d" % i) for i in range(3)]

    assert simulation.pass_proposal(("trigger_ledger_rekey", {})).proposal_state == "Accepted"
    simulation.run_until(lambda: all(len(versions(simulation, i)) == 2 for i in range(3)), 100, "the rekey")
    after = [write_through(simulation, i, b"after-%d" % i) for i in range(3)]
    settle(simulation)

    seqno = rekey_seqno(simulation, 0)
    assert all(versions(simulation, i) == [1, seqno + 1] for i in range(3))
    keys = {simulation.running(i).secrets.ledger_secrets.secret_for(seqno + 1).key for i in range(3)}
    assert len(keys) == 1 and keys != {simulation.running(0).secrets.ledger_secrets.secret_for(seqno).key}
    assert all(committed(result) for result in before + after)
    for i in range(3):
        answer = ask(simulation, i, provisioned().user_cert_der, m.Get(MAP, b"before-0"))
        assert isinstance(answer, m.GetResult) and answer.value == b"after the removal"

    # A node restarted from its own ledger learns the new secret again and reads what it encrypted.
    simulation.hosts[1].crash()
    simulation.restart(1)
    assert versions(simulation, 1) == [1, seqno + 1]
    settle(simulation)
    answer = ask(simulation, 1, provisioned().user_cert_der, m.Get(MAP, b"after-2"))
    assert isinstance(answer, m.GetResult) and answer.value == b"after the removal"


def test_a_record_for_this_node_that_does_not_decrypt_is_refused() -> None:
    simulation = three_nodes()
    assert simulation.pass_proposal(("trigger_ledger_rekey", {})).proposal_state == "Accepted"
    simulation.run_until(lambda: len(versions(simulation, 0)) == 2, 100, "the rekey")
    public_maps = decode_entry(simulation.hosts[0].written.ledger[rekey_seqno(simulation, 0) - 1]).public_maps
    me: NodeIdentity = simulation.running(0).secrets.node
    assert learned_secret(public_maps, me) is not None
    stranger = simulation.running(1).secrets.node
    other_copy = public_maps[LEDGER_SECRETS].writes[stranger.node_id.encode()]
    swapped = {LEDGER_SECRETS: type(public_maps[LEDGER_SECRETS])(writes={me.node_id.encode(): other_copy})}
    try:
        learned_secret(swapped, me)
    except RekeyRecordInvalid as refused:
        assert "unusable" in str(refused)
    else:
        raise AssertionError("another node's copy was accepted")


def test_a_truncated_rekey_is_forgotten_and_a_known_one_is_learnt_once() -> None:
    first, second, third = (LedgerSecret(bytes([i]) * 32) for i in range(3))
    secrets = LedgerSecrets.single(first)
    secrets.learn(10, second)
    secrets.learn(10, second)  # replayed after a restart, or given to a joiner and then replayed
    secrets.learn(20, third)
    secrets.rollback(19)  # the rekey at 19 stays: so does its secret
    assert [start for start, _ in secrets.versions()] == [1, 10, 20]
    secrets.rollback(18)  # the rekey at 19 is gone: its secret too
    assert [start for start, _ in secrets.versions()] == [1, 10]
    secrets.rollback(0)
    assert [start for start, _ in secrets.versions()] == [1]
