"""Leader transfer with TimeoutNow (Raft dissertation 3.10)."""

from __future__ import annotations

import pytest

from consensus.errors import InvalidTransferError, NotLeaderError, ProposalDroppedError
from consensus.raft import Role
from consensus.types import NodeId, Term
from tests.consensus.harness import Cluster


def test_leadership_moves_to_an_up_to_date_follower_without_waiting_for_a_timeout() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster["n1"].transfer_leadership(NodeId("n2"))
    cluster.stabilize()
    assert cluster.leaders() == [NodeId("n2")]
    assert cluster["n2"].term == Term(2)


def test_a_lagging_target_is_caught_up_first_and_proposals_wait_meanwhile() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster.isolate("n3")
    written = cluster.propose("n1", b"x=1", b"x=2")
    cluster.heal()
    cluster["n1"].transfer_leadership(NodeId("n3"))
    with pytest.raises(ProposalDroppedError):
        cluster["n1"].propose([b"x=3"], committable=True)
    cluster.stabilize()
    assert cluster.leaders() == [NodeId("n3")]
    assert cluster["n3"].log.last_index() > written


def test_a_transfer_that_cannot_finish_is_abandoned_after_an_election_timeout() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster.isolate("n3")
    cluster.propose("n1", b"x=1")
    cluster["n1"].transfer_leadership(NodeId("n3"))
    cluster.tick(10, only=["n1"])
    assert cluster["n1"].role is Role.LEADER
    cluster.propose("n1", b"x=2")


def test_only_a_leader_transfers_and_only_to_another_voter() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    with pytest.raises(NotLeaderError):
        cluster["n2"].transfer_leadership(NodeId("n3"))
    with pytest.raises(InvalidTransferError):
        cluster["n1"].transfer_leadership(NodeId("n1"))
    with pytest.raises(InvalidTransferError):
        cluster["n1"].transfer_leadership(NodeId("n9"))
