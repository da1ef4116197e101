"""Three nodes on a fault-free network: forwarding, truncation after a leader change, linearizable reads."""

from __future__ import annotations

from consensus import RaftConfig
from enclave.runtime import messages as m
from tests.enclave.runtime.node_helpers import put, three_nodes
from tests.sim.simulation import MAP, Simulation
from tests.sim.world import SETTINGS, provisioned


def test_a_write_on_a_follower_is_forwarded_and_returns_the_primarys_txid() -> None:
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    follower = (leader + 1) % 3
    simulation.give(follower, put(b"forwarded", 500))
    simulation.run_until(lambda: 500 in simulation.hosts[follower].answers, 100, "the forwarded answer")
    result = simulation.hosts[follower].answers[500]
    assert isinstance(result, m.WriteResult) and result.status is m.TxStatus.COMMITTED
    leader_node = simulation.running(leader)
    assert leader_node.rep.writer.view_at(result.txid.seqno) == result.txid.view
    assert leader_node.rep.kv.begin_committed().get(MAP, b"forwarded") == b"value"


def test_a_write_truncated_after_a_leader_change_reports_invalid() -> None:
    simulation = three_nodes()
    old = simulation.leader()
    assert old is not None
    others = [i for i in range(3) if i != old]
    simulation.faulty = True
    simulation.cut = {frozenset({old, i}) for i in others}
    simulation.give(old, put(b"lost", 600))

    def new_leader_committed() -> bool:
        leader = simulation.leader()
        if leader is None or leader == old:
            return False
        if 601 not in simulation.hosts[leader].answers:
            simulation.give(leader, put(b"kept", 601))
        return isinstance(simulation.hosts[leader].answers.get(601), m.WriteResult)

    simulation.run_until(new_leader_committed, 300, "a new leader committing")
    simulation.cut.clear()
    simulation.run_until(lambda: 600 in simulation.hosts[old].answers, 300, "the old leader's answer")
    result = simulation.hosts[old].answers[600]
    assert isinstance(result, m.WriteResult) and result.status is m.TxStatus.INVALID


def test_linearizable_reads_on_the_primary_and_through_a_follower() -> None:
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    follower = (leader + 1) % 3
    simulation.give(leader, put(b"read-me", 800))
    simulation.run_until(lambda: 800 in simulation.hosts[leader].answers, 100, "the write")
    user = provisioned().user_cert_der
    for index, request_id in ((leader, 801), (follower, 802)):
        simulation.give(index, m.ClientRequest(request_id, user, m.Get(MAP, b"read-me")))
        simulation.run_until(lambda i=index, r=request_id: r in simulation.hosts[i].answers, 100, "the read")
        result = simulation.hosts[index].answers[request_id]
        assert isinstance(result, m.GetResult) and result.value == b"value"
    simulation.give(follower, m.ClientRequest(803, user, m.Scan(MAP, consistency=m.Consistency.LOCAL)))
    scan = simulation.hosts[follower].answers[803]
    assert isinstance(scan, m.ScanResult)
    assert m.KeyValue(b"read-me", b"value") in scan.items


def test_writes_forwarded_together_become_one_proposal_and_a_refused_frame_among_them_changes_nothing() -> (
    None
):
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    followers = [i for i in range(3) if i != leader]
    request_ids = []
    already_in_flight = list(simulation.in_flight)
    for follower in followers:
        for n in range(3):
            request_ids.append((follower, 700 + 10 * follower + n))
            simulation.give(follower, put(b"batched-%d" % request_ids[-1][1], request_ids[-1][1]))
    to_leader = [p for p in simulation.in_flight if p.dst == leader and p not in already_in_flight]
    simulation.in_flight = [p for p in simulation.in_flight if p not in to_leader]
    frames = [
        m.PeerMessage(simulation.node_ids[p.src], p.effect.frame)
        for p in to_leader
        if isinstance(p.effect, m.SendToPeer)
    ]
    assert len(frames) == 6
    garbage = m.PeerMessage(simulation.node_ids[followers[0]], b"\x01\x02not a channel frame")

    effects = simulation.give(leader, m.PeerMessageBatch((*frames[:3], garbage, *frames[3:])))

    assert any(isinstance(e, m.Log) and "refused PeerMessage" in e.text for e in effects)
    for follower in followers:
        sent = [
            e for e in effects if isinstance(e, m.SendToPeer) and e.node_id == simulation.node_ids[follower]
        ]
        # The six writes' entries, then the signature after them: not one AppendEntries per write.
        assert 1 <= len(sent) <= 2, len(sent)
    simulation.run_until(
        lambda: all(rid in simulation.hosts[f].answers for f, rid in request_ids), 100, "every answer"
    )
    results = [simulation.hosts[f].answers[rid] for f, rid in request_ids]
    assert all(isinstance(r, m.WriteResult) and r.status is m.TxStatus.COMMITTED for r in results)
    seqnos = sorted(r.txid.seqno for r in results if isinstance(r, m.WriteResult))
    assert seqnos == list(range(seqnos[0], seqnos[0] + 6))


def _reads_of_a_committed_write(
    key: bytes, request_id: int, count: int
) -> tuple[Simulation, int, list[m.ClientRequest]]:
    """Three nodes whose primary committed a put of `key`, and `count` linearizable reads of it (not yet
    given to anyone): the simulation, the primary's index and the reads."""
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    simulation.give(leader, put(key, request_id))
    simulation.run_until(lambda: request_id in simulation.hosts[leader].answers, 100, "the write")
    user = provisioned().user_cert_der
    reads = [m.ClientRequest(request_id + 1 + n, user, m.Get(MAP, key)) for n in range(count)]
    return simulation, leader, reads


def test_linearizable_reads_that_arrive_together_share_one_read_index_round() -> None:
    simulation, leader, reads = _reads_of_a_committed_write(b"read-together", 900, 5)

    effects = simulation.give(leader, m.ClientRequestBatch(tuple(reads)))

    # One heartbeat round carries the read index: one frame to each follower, not one per read.
    sent = [e.node_id for e in effects if isinstance(e, m.SendToPeer)]
    assert sorted(sent) == sorted(simulation.node_ids[i] for i in range(3) if i != leader)
    answers = simulation.hosts[leader].answers
    simulation.run_until(lambda: all(r.request_id in answers for r in reads), 100, "the reads")
    values = [
        answer.value for answer in (answers[r.request_id] for r in reads) if isinstance(answer, m.GetResult)
    ]
    assert values == [b"value"] * len(reads)


def test_reads_that_arrive_while_a_read_index_round_is_in_flight_wait_and_share_the_next_one() -> None:
    simulation, leader, (first, *later) = _reads_of_a_committed_write(b"read-later", 950, 4)
    followers = sorted(simulation.node_ids[i] for i in range(3) if i != leader)

    round_one = simulation.give(leader, first)
    waiting = [simulation.give(leader, read) for read in later]

    assert sorted(e.node_id for e in round_one if isinstance(e, m.SendToPeer)) == followers
    assert not any(isinstance(e, m.SendToPeer) for effects in waiting for e in effects), (
        "a read taken while a round is in flight starts no round of its own"
    )
    answers = simulation.hosts[leader].answers
    simulation.run_until(lambda: first.request_id in answers, 100, "the first read")
    simulation.run_until(lambda: all(r.request_id in answers for r in later), 100, "the reads that waited")
    results = [answers[r.request_id] for r in (first, *later)]
    assert all(isinstance(r, m.GetResult) and r.value == b"value" for r in results)


def test_a_followers_batch_of_writes_goes_to_the_primary_in_one_frame() -> None:
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    follower = (leader + 1) % 3
    requests = tuple(put(b"one-frame-%d" % n, 1000 + n) for n in range(4))

    effects = simulation.give(follower, m.ClientRequestBatch(requests))

    assert [e.node_id for e in effects if isinstance(e, m.SendToPeer)] == [simulation.node_ids[leader]]
    answers = simulation.hosts[follower].answers
    simulation.run_until(lambda: all(r.request_id in answers for r in requests), 100, "the answers")
    results = [answers[r.request_id] for r in requests]
    assert all(isinstance(r, m.WriteResult) and r.status is m.TxStatus.COMMITTED for r in results)
    assert len({r.txid.seqno for r in results if isinstance(r, m.WriteResult)}) == len(requests)


def test_the_settings_append_window_is_the_primarys_window_for_every_follower() -> None:
    simulation = three_nodes()
    leader = simulation.leader()
    assert leader is not None
    raft = simulation.running(leader).rep.raft
    windows = {node: progress.max_inflight for node, progress in raft.progress.items() if node != raft.id}
    assert len(windows) == 2
    # Raft's own default is 64: the window comes from the settings the host gave.
    assert set(windows.values()) == {SETTINGS.max_inflight_appends} != {RaftConfig(raft.id).max_inflight}
