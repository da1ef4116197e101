"""Linearizable reads through read-index (Raft dissertation 6.4): no clock, no lease."""

from __future__ import annotations

from consensus.raft import Role
from consensus.ready import ReadState
from consensus.types import NodeId
from tests.consensus.harness import Cluster


def test_the_leader_answers_with_its_commit_index_after_a_heartbeat_round() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    written = cluster.propose("n1", b"x=1")
    cluster["n1"].read_index(b"read-1")
    cluster.process(NodeId("n1"))
    assert cluster.nodes[NodeId("n1")].read_states == [], "not before a majority confirmed leadership"
    cluster.stabilize()
    assert cluster.nodes[NodeId("n1")].read_states == [ReadState(written, b"read-1")]


def test_a_follower_forwards_the_read_to_the_leader() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    written = cluster.propose("n1", b"x=1")
    cluster["n2"].read_index(b"read-2")
    cluster.stabilize()
    assert cluster.nodes[NodeId("n2")].read_states == [ReadState(written, b"read-2")]


def test_a_deposed_leader_cannot_serve_a_read() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster.isolate("n1")
    cluster.tick(30, only=["n2", "n3"])
    (new_leader,) = [node for node in cluster.leaders() if node != "n1"]
    cluster.propose(new_leader, b"x=2")
    assert cluster.role("n1") is Role.LEADER, "it does not know yet"
    cluster["n1"].read_index(b"stale?")
    cluster.tick(30, only=["n1"])
    assert cluster.nodes[NodeId("n1")].read_states == []
    assert cluster.role("n1") is Role.FOLLOWER


def test_a_new_leader_defers_reads_until_it_committed_an_entry_of_its_term() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster.propose("n1", b"x=1")
    cluster["n1"].transfer_leadership(NodeId("n2"))
    cluster.run_until(lambda: cluster.role("n2") is Role.LEADER)
    cluster["n2"].read_index(b"early")
    assert cluster.nodes[NodeId("n2")].read_states == []
    cluster.stabilize()
    (read,) = cluster.nodes[NodeId("n2")].read_states
    assert read.context == b"early"
    assert read.index == cluster["n2"].commit_index, "at least its own term's first entry"
