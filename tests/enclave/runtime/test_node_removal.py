"""Removing nodes (CCF: a removed node becomes Retired) on three real enclaves over a perfect network."""

from __future__ import annotations

from enclave.crypto.ids import NodeId, node_id_of
from enclave.ledger.tables import NodeStatus
from enclave.runtime import join_wire
from enclave.runtime import messages as m
from enclave.runtime.peer_wire import PayloadKind
from enclave.runtime.service_maps import read_node
from tests.enclave.runtime.node_helpers import (
    give,
    join_answer,
    joiner_key,
    open_service,
    request_from,
    start_alone,
    three_nodes,
    tick_for_a_while,
)
from tests.sim.simulation import MAP, Simulation
from tests.sim.world import provisioned

S = m.LifecycleState
RETIRED = S.RETIRED


def primary_and_follower() -> tuple[Simulation, int, int]:
    """Three nodes, the service open: the primary's index and one follower's."""
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    return simulation, leader, (leader + 1) % 3


def retire(simulation: Simulation, leader: int, gone: int) -> None:
    """Remove node `gone` through the primary and wait until it knows it is Retired."""
    assert committed(remove(simulation, leader, simulation.node_ids[gone]))
    simulation.run_until(lambda: simulation.state_of(gone) is RETIRED, 100, f"node {gone} retiring")


def remove(simulation: Simulation, at: int, node_id: str) -> m.CallResult:
    """The operator's RemoveNode, given to node `at`; ticks until the answer comes."""
    request_id = 1_000_000 + simulation.step_no
    simulation.give(at, m.RemoveNode(request_id, node_id))
    answers = simulation.hosts[at].answers
    simulation.run_until(lambda: request_id in answers, 100, "an answer to RemoveNode")
    return answers.pop(request_id)


def write_through(simulation: Simulation, at: int, key: bytes) -> m.CallResult:
    request_id = 2_000_000 + simulation.step_no
    call = m.Put(MAP, key, b"after the removal")
    simulation.give(at, m.ClientRequest(request_id, provisioned().user_cert_der, call))
    answers = simulation.hosts[at].answers
    simulation.run_until(lambda: request_id in answers, 100, "an answer to a write")
    return answers.pop(request_id)


def voters(simulation: Simulation, index: int) -> set[str]:
    return set(simulation.running(index).rep.raft.configuration.voters)


def committed(result: m.CallResult) -> bool:
    return isinstance(result, m.WriteResult) and result.status is m.TxStatus.COMMITTED


def settle(simulation: Simulation, steps: int = 60) -> None:
    for _ in range(steps):
        simulation.step()


def test_a_removed_follower_ends_retired_and_the_other_two_keep_committing() -> None:
    simulation, leader, gone = primary_and_follower()
    other = 3 - leader - gone
    gone_id = simulation.node_ids[gone]

    retire(simulation, leader, gone)
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
    retire(simulation, leader, gone)
    raft = simulation.running(gone).rep.raft
    term = raft.term

    settle(simulation, 10 * simulation.running(gone).rep.raft.config.election_tick)

    assert (raft.term, raft.role.value) == (term, "follower")
    answer = write_through(simulation, gone, b"refused")
    assert isinstance(answer, m.CallError) and answer.code is m.ErrorCode.WRONG_STATE
    assert "Retired" in answer.message
    again = remove(simulation, gone, simulation.node_ids[leader])
    assert isinstance(again, m.CallError) and again.code is m.ErrorCode.WRONG_STATE


def test_a_follower_that_is_down_is_removed_all_the_same() -> None:
    simulation, leader, gone = primary_and_follower()
    gone_id = simulation.node_ids[gone]
    simulation.hosts[gone].crash()

    assert committed(remove(simulation, leader, gone_id))
    simulation.run_until(lambda: gone_id not in voters(simulation, leader), 100, "the Raft removal")

    assert committed(write_through(simulation, leader, b"without it"))


def test_removing_the_primary_hands_over_and_writes_continue() -> None:
    simulation, old, _ = primary_and_follower()
    old_id = simulation.node_ids[old]

    assert committed(remove(simulation, old, old_id))
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


def test_removing_an_unknown_or_retired_node_is_refused_and_changes_nothing() -> None:
    simulation, leader, gone = primary_and_follower()
    last = len(simulation.hosts[leader].written.ledger)

    unknown = remove(simulation, leader, "ab" * 32)

    assert isinstance(unknown, m.CallError) and unknown.code is m.ErrorCode.UNKNOWN_NODE
    assert len(simulation.hosts[leader].written.ledger) == last
    retire(simulation, leader, gone)
    twice = remove(simulation, leader, simulation.node_ids[gone])
    assert isinstance(twice, m.CallError) and twice.code is m.ErrorCode.WRONG_STATE
    assert "Retired" in twice.message


def test_a_second_removal_while_one_is_in_flight_is_refused_and_changes_nothing() -> None:
    simulation, leader, follower = primary_and_follower()
    first, second = simulation.node_ids[follower], simulation.node_ids[3 - leader - follower]
    host = simulation.hosts[leader]
    simulation.give(leader, m.RemoveNode(1, first))
    last = len(host.written.ledger)

    effects = simulation.give(leader, m.RemoveNode(2, second))

    answer = host.answers.pop(2)
    assert isinstance(answer, m.CallError) and answer.code is m.ErrorCode.WRONG_STATE
    assert "one membership change at a time" in answer.message
    assert not [effect for effect in effects if isinstance(effect, m.AppendLedger)]
    assert len(host.written.ledger) == last
    record = read_node(simulation.running(leader).rep.kv.begin(), second)
    assert record is not None and record.status is NodeStatus.TRUSTED


def test_removing_the_last_voter_is_refused() -> None:
    host, _ = start_alone()
    enclave = host.enclave
    assert enclave is not None and enclave.node is not None
    last = len(host.written.ledger)

    give(host, m.RemoveNode(3, enclave.node.node_id))

    answer = host.answers.pop(3)
    assert isinstance(answer, m.CallError) and answer.code is m.ErrorCode.WRONG_STATE
    assert "last voter" in answer.message
    assert len(host.written.ledger) == last and enclave.state is S.TRUSTED


def test_a_follower_refuses_removal_as_not_the_primary() -> None:
    simulation, leader, follower = primary_and_follower()

    answer = remove(simulation, follower, simulation.node_ids[leader])

    assert isinstance(answer, m.CallError) and answer.code is m.ErrorCode.NOT_PRIMARY


def test_a_retired_node_stays_retired_across_a_restart() -> None:
    simulation, leader, gone = primary_and_follower()
    retire(simulation, leader, gone)
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
    assert committed(remove(simulation, leader, gone_id))
    simulation.run_until(lambda: gone_id not in voters(simulation, leader), 100, "the Raft removal")
    settle(simulation, 5)
    (hello,) = simulation.running(gone).peers.send(NodeId(leader_id), PayloadKind.FORWARD, b"anyone?")
    assert isinstance(hello, m.SendToPeer)

    effects = simulation.give(leader, m.PeerMessage(gone_id, hello.frame))

    assert not [effect for effect in effects if isinstance(effect, m.SendToPeer)]
    (log,) = [effect for effect in effects if isinstance(effect, m.Log)]
    assert "removed from the service" in log.text


def test_a_pending_node_can_be_removed_and_may_not_join_again() -> None:
    service, _ = start_alone()
    open_service(service)
    assert isinstance(join_answer(service, request_from(1)), join_wire.JoinPending)

    give(service, m.RemoveNode(901, node_id_of(joiner_key(5).public_key())))
    tick_for_a_while(service)

    assert committed(service.answers.pop(901))
    answer = join_answer(service, request_from(1))
    assert isinstance(answer, join_wire.JoinRejected) and "removed" in answer.reason
