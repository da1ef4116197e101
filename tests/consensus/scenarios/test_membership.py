"""Membership changes: learners first, one change at a time, and removing the leader."""

from __future__ import annotations

import pytest

from consensus.errors import ConfChangeRefusedError, InvalidConfChangeError
from consensus.messages import VoteRequest
from consensus.raft import Role
from consensus.types import ChangeKind, ConfChange, Configuration, Index, NodeId
from tests.consensus.harness import Cluster, node_ids


def add(node: str) -> ConfChange:
    return ConfChange(ChangeKind.ADD_LEARNER, NodeId(node))


def promote(node: str) -> ConfChange:
    return ConfChange(ChangeKind.PROMOTE, NodeId(node))


def remove(node: str) -> ConfChange:
    return ConfChange(ChangeKind.REMOVE, NodeId(node))


def cluster_with_spare(count: int = 3) -> Cluster:
    """`count` voters and one more node, started from the same genesis configuration."""
    cluster = Cluster(count)
    cluster.add_node(NodeId(f"n{count + 1}"), Configuration(frozenset(node_ids(count))))
    cluster.elect("n1")
    return cluster


def test_a_learner_catches_up_but_neither_votes_nor_counts_for_a_quorum() -> None:
    cluster = cluster_with_spare()
    cluster.propose("n1", b"before")
    cluster["n1"].propose_conf_change(add("n4"))
    cluster.stabilize()
    assert cluster.payloads("n4") == [b"before"]
    assert cluster["n4"].configuration.learners == {"n4"}
    cluster.isolate("n2")
    cluster.isolate("n3")
    stuck = cluster.propose("n1", b"needs a voter")
    assert cluster["n4"].log.last_index() == stuck, "the learner has it ..."
    assert cluster["n1"].commit_index < stuck, "... but learners do not count"
    cluster.tick(50, only=["n4"])
    assert cluster["n4"].role is Role.FOLLOWER, "a learner never campaigns"


def test_a_learner_is_not_asked_for_its_vote() -> None:
    cluster = cluster_with_spare()
    cluster["n1"].propose_conf_change(add("n4"))
    cluster.stabilize()
    cluster.delivered.clear()
    cluster["n1"].transfer_leadership(NodeId("n2"))
    cluster.stabilize()
    assert cluster.leaders() == [NodeId("n2")]
    asked = {m.dst for m in cluster.delivered if isinstance(m, VoteRequest)}
    assert asked == {"n1", "n3"}


def test_only_one_change_at_a_time() -> None:
    cluster = cluster_with_spare(4)
    cluster.isolate("n2")
    cluster.isolate("n3")
    cluster["n1"].propose_conf_change(add("n5"))
    with pytest.raises(ConfChangeRefusedError, match="not committed"):
        cluster["n1"].propose_conf_change(remove("n4"))
    cluster.heal()
    cluster.stabilize()
    cluster["n1"].propose_conf_change(remove("n4"))
    cluster.stabilize()
    assert cluster["n1"].configuration == Configuration(frozenset(node_ids(3)), frozenset({NodeId("n5")}))


def test_no_change_before_the_leader_committed_an_entry_of_its_term() -> None:
    cluster = Cluster(3)
    cluster["n1"].campaign()
    cluster.run_until(lambda: cluster["n1"].role is Role.LEADER)
    with pytest.raises(ConfChangeRefusedError, match="of its term"):
        cluster["n1"].propose_conf_change(remove("n3"))
    cluster.stabilize()
    cluster["n1"].propose_conf_change(remove("n3"))


def test_a_learner_is_promoted_only_once_it_caught_up() -> None:
    cluster = cluster_with_spare()
    cluster.isolate("n4")
    cluster["n1"].propose_conf_change(add("n4"))
    cluster.propose("n1", b"more")
    with pytest.raises(ConfChangeRefusedError, match="caught up"):
        cluster["n1"].propose_conf_change(promote("n4"))
    cluster.heal()
    cluster.tick(2)
    cluster["n1"].propose_conf_change(promote("n4"))
    cluster.stabilize()
    assert cluster["n1"].configuration.voters == frozenset(node_ids(4))
    cluster.isolate("n2")
    cluster.isolate("n3")
    pending = cluster.propose("n1", b"needs three of four")
    assert cluster["n1"].commit_index < pending, "the promoted voter raised the quorum to three"


def test_removing_the_leader_hands_leadership_over() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster["n1"].propose_conf_change(remove("n1"))
    cluster.stabilize()  # no ticks: TimeoutNow, not an election timeout, starts the next term
    assert cluster["n1"].role is Role.FOLLOWER
    assert not cluster["n1"].is_voter()
    (leader,) = cluster.leaders()
    assert leader in {"n2", "n3"}
    index = cluster.propose(leader, b"after")
    assert cluster[leader].commit_index == index
    cluster.tick(50)
    assert cluster.leaders() == [leader], "the removed node does not disrupt the new configuration"


def test_changes_that_do_not_apply_are_rejected_without_effect() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    before = cluster["n1"].log.last_index()
    with pytest.raises(InvalidConfChangeError):
        cluster["n1"].propose_conf_change(add("n2"))
    with pytest.raises(InvalidConfChangeError):
        cluster["n1"].propose_conf_change(promote("n9"))
    with pytest.raises(InvalidConfChangeError):
        cluster["n1"].propose_conf_change(remove("n9"))
    assert cluster["n1"].log.last_index() == before
    assert cluster["n1"].commit_index == Index(before)
