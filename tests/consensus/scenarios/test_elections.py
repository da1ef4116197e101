"""Elections: randomised timeouts, PreVote, CheckQuorum and CCF's vote rule, as stories."""

from __future__ import annotations

from consensus.messages import VoteRequest
from consensus.raft import Role
from consensus.types import Index, NodeId, Term
from tests.consensus.harness import Cluster


def test_a_cluster_elects_one_leader_by_timeout_alone() -> None:
    cluster = Cluster(5, seed=7)
    cluster.tick(30)
    assert len(cluster.leaders()) == 1
    leader = cluster.leaders()[0]
    assert {node.node.leader for node in cluster.nodes.values()} == {leader}


def test_a_rejoining_partitioned_node_does_not_disrupt_the_leader_with_prevote() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster.isolate("n3")
    cluster.tick(100)
    assert cluster["n3"].term == Term(1), "pre-votes fail, so the isolated node never bumps its term"
    cluster.heal()
    cluster.tick(5)
    assert cluster.leaders() == [NodeId("n1")]
    assert set(cluster.terms().values()) == {Term(1)}


def test_without_prevote_the_same_node_comes_back_with_a_higher_term_and_deposes_the_leader() -> None:
    cluster = Cluster(3, pre_vote=False, check_quorum=False)
    cluster.elect("n1")
    cluster.isolate("n3")
    cluster.tick(100)
    isolated_term = cluster["n3"].term
    assert isolated_term > Term(5)
    cluster.heal()
    cluster.tick(30)
    assert min(cluster.terms().values()) >= isolated_term, "the leader of term 1 was deposed"


def test_an_isolated_leader_steps_down_after_an_election_timeout() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster.isolate("n1")
    cluster.tick(10, only=["n1"])
    assert cluster.role("n1") is Role.LEADER, "the followers answered within the first timeout"
    cluster.tick(10, only=["n1"])
    assert cluster.role("n1") is Role.FOLLOWER, "CheckQuorum: no majority heard from within a timeout"
    cluster.tick(30, only=["n2", "n3"])
    assert len(cluster.leaders()) == 1
    assert cluster.leaders()[0] != NodeId("n1")


def test_followers_that_hear_from_their_leader_ignore_vote_requests() -> None:
    cluster = Cluster(3, pre_vote=False)
    cluster.elect("n1")
    cluster["n3"].campaign()  # an impatient node starts an election in term 2
    cluster.stabilize()
    assert cluster.leaders() == [NodeId("n1")]
    assert cluster["n2"].term == Term(1), "n2 heard from n1 within the election timeout"


def test_votes_compare_the_last_committable_entry_not_the_last_entry() -> None:
    cluster = Cluster(3)
    # n2 has a longer log, but its extra entries are not committable: n3 is as up to date (CCF).
    cluster.load_log("n1", [1, 1], term=1)
    cluster.load_log("n2", [1, 1, 1, 1], term=1, uncommittable_from=3)
    cluster.load_log("n3", [1, 1], term=1)
    cluster.isolate("n1")
    cluster.elect("n3")
    assert cluster["n3"].term == Term(2)
    assert cluster.nodes[NodeId("n2")].log_terms() == [(1, 1), (2, 1), (3, 2)], "n2's tail was replaced"


def test_a_longer_log_with_a_later_committable_entry_wins_the_vote() -> None:
    cluster = Cluster(3)
    cluster.load_log("n1", [1, 1, 1], term=1)
    cluster.load_log("n2", [1, 1, 2], term=2)
    cluster.load_log("n3", [1], term=2)
    cluster.isolate("n3", outbound=False)
    cluster["n1"].campaign()
    cluster.stabilize()
    assert cluster["n1"].role is not Role.LEADER, "n2's last committable entry (term 2) is newer"
    vote_requests = [m for m in cluster.delivered if isinstance(m, VoteRequest)]
    assert vote_requests and vote_requests[0].last_committable_index == Index(3)
