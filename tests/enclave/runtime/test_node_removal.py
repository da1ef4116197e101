"""Removing nodes (CCF: a removed node becomes Retired) on three real enclaves over a perfect network."""

from __future__ import annotations

from enclave.crypto.cose import GovMessageType
from enclave.crypto.ids import NodeId, node_id_of
from enclave.ledger.tables import NodeStatus
from enclave.runtime import join_wire
from enclave.runtime import messages as m
from enclave.runtime.peer_wire import PayloadKind
from enclave.runtime.running import RunningNode
from enclave.runtime.service_maps import read_node
from tests.enclave.runtime.node_helpers import (
    give,
    join_answer,
    joiner_key,
    open_service,
    pass_proposal,
    request_from,
    start_alone,
    three_nodes,
)
from tests.sim.simulation import MAP, Simulation
from tests.sim.world import Host, provisioned

S = m.LifecycleState
RETIRED = S.RETIRED


def primary_and_follower() -> tuple[Simulation, int, int]:
    """Three nodes, the service open: the primary's index and one follower's."""
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    return simulation, leader, (leader + 1) % 3


def retire(simulation: Simulation, gone: int) -> None:
    """Members remove node `gone` and it learns that it is Retired."""
    assert accepted(remove(simulation, simulation.node_ids[gone]))
    simulation.run_until(lambda: simulation.state_of(gone) is RETIRED, 100, f"node {gone} retiring")


def remove(simulation: Simulation, node_id: str, at: int | None = None) -> m.GovernanceResult:
    """Governance's `remove_node`, proposed and voted through node `at` (default: the primary)."""
    return simulation.pass_proposal(("remove_node", {"node_id": node_id}), at=at)


def ask(simulation: Simulation, at: int, caller_cert_der: bytes, call: m.ClientCall) -> m.CallResult:
    request_id = 2_000_000 + simulation.step_no
    simulation.give(at, m.ClientRequest(request_id, caller_cert_der, call))
    answers = simulation.hosts[at].answers
    simulation.run_until(lambda: request_id in answers, 100, "an answer")
    return answers.pop(request_id)


def write_through(simulation: Simulation, at: int, key: bytes) -> m.CallResult:
    return ask(simulation, at, provisioned().user_cert_der, m.Put(MAP, key, b"after the removal"))


def voters(simulation: Simulation, index: int) -> set[str]:
    return set(simulation.running(index).rep.raft.configuration.voters)


def service_node(host: Host) -> RunningNode:
    assert host.enclave is not None and host.enclave.node is not None
    return host.enclave.node


def committed(result: m.CallResult) -> bool:
    return isinstance(result, m.WriteResult) and result.status is m.TxStatus.COMMITTED


def accepted(result: m.GovernanceResult) -> bool:
    return result.status is m.TxStatus.COMMITTED and result.proposal_state == "Accepted"


def settle(simulation: Simulation, steps: int = 60) -> None:
    for _ in range(steps):
        simulation.step()


def test_a_removed_follower_ends_retired_and_the_other_two_keep_committing() -> None:
    simulation, leader, gone = primary_and_follower()
    other = 3 - leader - gone
    gone_id = simulation.node_ids[gone]

    retire(simulation, gone)
    simulation.run_until(lambda: gone_id not in voters(simulation, leader), 100, "the Raft removal")
    settle(simulation)

    record = read_node(simulation.running(other).rep.kv.begin_committed(), gone_id)
    assert record is not None and record.status is NodeStatus.RETIRED
    assert voters(simulation, leader) == voters(simulation, other) == set(simulation.node_ids) - {gone_id}
    for index in (leader, other):
        assert gone_id not in {peer.node_id for peer in simulation.hosts[index].peer_addresses}
    give(simulation.hosts[gone], m.NodeStatusQuery(5))
    assert simulation.hosts[gone].statuses[-1].state is RETIRED

    # The remaining two commit without it (a write through the follower is forwarded), and nobody
    # sends it anything any more.
    assert committed(write_through(simulation, leader, b"one"))
    assert committed(write_through(simulation, other, b"two"))
    simulation.step()
    assert not [packet for packet in simulation.in_flight if packet.dst == gone]
    assert simulation.hosts[gone].committed < simulation.hosts[leader].committed


def test_a_retired_node_answers_clients_with_a_clear_error_and_never_campaigns() -> None:
    simulation, leader, gone = primary_and_follower()
    retire(simulation, gone)
    raft = simulation.running(gone).rep.raft
    term = raft.term

    settle(simulation, 10 * simulation.running(gone).rep.raft.config.election_tick)

    assert (raft.term, raft.role.value) == (term, "follower")
    answer = write_through(simulation, gone, b"refused")
    assert isinstance(answer, m.CallError) and answer.code is m.ErrorCode.NODE_RETIRED
    assert "Retired" in answer.message
    proposal = {"actions": [{"name": "remove_node", "args": {"node_id": simulation.node_ids[leader]}}]}
    request = simulation.member_call(GovMessageType.PROPOSAL, proposal)
    again = ask(simulation, gone, provisioned().member_cert_der, request)
    assert isinstance(again, m.CallError) and again.code is m.ErrorCode.NODE_RETIRED


def test_a_follower_that_is_down_is_removed_all_the_same() -> None:
    simulation, leader, gone = primary_and_follower()
    gone_id = simulation.node_ids[gone]
    simulation.hosts[gone].crash()

    assert accepted(remove(simulation, gone_id))
    simulation.run_until(lambda: gone_id not in voters(simulation, leader), 100, "the Raft removal")

    assert committed(write_through(simulation, leader, b"without it"))


def test_removing_the_primary_hands_over_and_writes_continue() -> None:
    simulation, old, _ = primary_and_follower()
    old_id = simulation.node_ids[old]

    assert accepted(remove(simulation, old_id, at=old))
    simulation.run_until(
        lambda: simulation.leader() not in (None, old) and simulation.state_of(old) is RETIRED,
        200,
        "a new primary among the others",
    )
    new = simulation.leader()
    assert new is not None
    simulation.run_until(lambda: old_id not in voters(simulation, new), 100, "the Raft removal")
    settle(simulation)

    assert simulation.leader() == new
    assert simulation.running(old).rep.raft.role.value == "follower"
    assert committed(write_through(simulation, new, b"after"))
    follower = 3 - old - new
    assert committed(write_through(simulation, follower, b"forwarded"))
    give(simulation.hosts[old], m.NodeStatusQuery(6))
    assert simulation.hosts[old].statuses[-1].state is RETIRED


def test_removing_an_unknown_or_retired_node_fails_and_changes_no_node() -> None:
    simulation, leader, gone = primary_and_follower()

    unknown = remove(simulation, "ab" * 32)

    assert unknown.proposal_state == "Failed" and "does not exist" in unknown.body_json
    assert read_node(simulation.running(leader).rep.kv.begin_committed(), "ab" * 32) is None
    retire(simulation, gone)
    twice = remove(simulation, simulation.node_ids[gone])
    assert twice.proposal_state == "Failed" and "already Retired" in twice.body_json


def test_two_removals_passed_at_once_leave_the_configuration_one_at_a_time() -> None:
    simulation, leader, follower = primary_and_follower()
    first, second = simulation.node_ids[follower], simulation.node_ids[3 - leader - follower]

    both = simulation.pass_proposal(("remove_node", {"node_id": first}), ("remove_node", {"node_id": second}))

    assert accepted(both)
    leader_id = simulation.node_ids[leader]
    simulation.run_until(lambda: voters(simulation, leader) == {leader_id}, 300, "both Raft removals")
    assert committed(write_through(simulation, leader, b"alone"))


def test_removing_the_last_node_fails() -> None:
    host, _ = start_alone()
    open_service(host)
    enclave = host.enclave
    assert enclave is not None and enclave.node is not None

    answer = pass_proposal(host, ("remove_node", {"node_id": enclave.node.node_id}))

    assert answer.proposal_state == "Failed" and "last Trusted node" in answer.body_json
    assert enclave.state is S.TRUSTED


def test_a_removal_sent_to_a_follower_is_forwarded_to_the_primary() -> None:
    simulation, leader, follower = primary_and_follower()
    other = 3 - leader - follower

    assert accepted(remove(simulation, simulation.node_ids[other], at=follower))

    simulation.run_until(lambda: simulation.state_of(other) is RETIRED, 100, "the removal")


def test_a_retired_node_stays_retired_across_a_restart() -> None:
    simulation, _, gone = primary_and_follower()
    retire(simulation, gone)
    settle(simulation, 5)

    simulation.hosts[gone].crash()
    simulation.restart(gone)

    assert simulation.state_of(gone) is RETIRED
    raft = simulation.running(gone).rep.raft
    settle(simulation, 5 * raft.config.election_tick)
    assert raft.role.value == "follower"


def test_a_removed_node_gets_no_channel_back() -> None:
    """Its certificate is still endorsed, but once its removal commits its handshakes are refused."""
    simulation, leader, gone = primary_and_follower()
    gone_id, leader_id = simulation.node_ids[gone], simulation.node_ids[leader]
    assert accepted(remove(simulation, gone_id))
    simulation.run_until(lambda: gone_id not in voters(simulation, leader), 100, "the Raft removal")
    settle(simulation, 5)
    (hello,) = simulation.running(gone).peers.send(NodeId(leader_id), PayloadKind.FORWARD, b"anyone?")
    assert isinstance(hello, m.SendToPeer)

    effects = simulation.give(leader, m.PeerMessage(gone_id, hello.frame))

    assert not [effect for effect in effects if isinstance(effect, m.SendToPeer)]
    (log,) = [effect for effect in effects if isinstance(effect, m.Log)]
    assert "removed from the service" in log.text


def test_a_pending_node_removed_by_governance_is_forgotten_and_never_trusted_by_asking_again() -> None:
    """CCF: removing a Pending node deletes its record; asking again makes it Pending anew."""
    service, _ = start_alone()
    open_service(service)
    assert isinstance(join_answer(service, request_from(1)), join_wire.JoinPending)
    node_id = node_id_of(joiner_key(5).public_key())

    removed = pass_proposal(service, ("remove_node", {"node_id": node_id}))

    assert removed.proposal_state == "Accepted"
    assert read_node(service_node(service).rep.kv.begin_committed(), node_id) is None
    assert isinstance(join_answer(service, request_from(1)), join_wire.JoinPending)
