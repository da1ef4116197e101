"""The persistence contract of a Ready, and what the API refuses."""

from __future__ import annotations

import random

import pytest

from consensus.errors import InvalidConfigError, MisaddressedMessageError, RaftUsageError
from consensus.messages import AppendEntries, AppendResponse, Heartbeat, VoteRequest, VoteResponse
from consensus.raft import Raft, RaftConfig
from consensus.storage import InMemoryStorage
from consensus.types import Configuration, Index, NodeId, Term
from tests.consensus.harness import Cluster, node_ids


def test_a_follower_acknowledges_entries_only_after_persisting_them() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster["n1"].propose([b"x=1"], committable=True)
    leader_ready = cluster["n1"].ready()
    appends = [m for m in leader_ready.messages if isinstance(m, AppendEntries)]
    assert len(appends) == 2, "a leader may send while it writes the same entries"
    cluster.nodes[NodeId("n1")].persist_and_apply(leader_ready)
    follower = cluster["n2"]
    follower.step(next(m for m in appends if m.dst == "n2"))
    ready = follower.ready()
    assert [e.data for e in ready.entries] == [b"x=1"]
    assert ready.messages == ()
    (ack,) = ready.messages_after_persist
    assert isinstance(ack, AppendResponse) and ack.index == ready.entries[-1].index


def test_a_crash_before_persisting_loses_the_ready_and_its_acknowledgements() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    before = cluster.nodes[NodeId("n2")].log_terms()
    cluster["n1"].propose([b"x=1"], committable=True)
    leader_ready = cluster["n1"].ready()
    cluster.nodes[NodeId("n1")].persist_and_apply(leader_ready)
    follower = cluster.nodes[NodeId("n2")]
    follower.node.step(next(m for m in leader_ready.messages if m.dst == "n2"))
    follower.node.ready()  # ... and the node crashes while writing it
    follower.crash()
    follower.restart()
    assert follower.log_terms() == before


def test_a_vote_is_sent_only_after_the_term_and_vote_are_durable() -> None:
    storage = InMemoryStorage(Configuration(frozenset(node_ids(3))))
    raft = Raft(RaftConfig(NodeId("n2")), storage, random.Random(1))
    raft.step(VoteRequest(NodeId("n1"), NodeId("n2"), Term(5), False, Index(0), Term(0)))
    ready = raft.ready()
    assert ready.hard_state is not None and ready.hard_state.vote == "n1"
    assert ready.messages == ()
    assert [type(m) for m in ready.messages_after_persist] == [VoteResponse]


def test_inputs_between_ready_and_advance_are_refused() -> None:
    cluster = Cluster(3)
    raft = cluster["n1"]
    raft.campaign()
    raft.ready()
    with pytest.raises(RaftUsageError):
        raft.tick()
    with pytest.raises(RaftUsageError):
        raft.step(Heartbeat(NodeId("n2"), NodeId("n1"), Term(1), Index(0)))
    with pytest.raises(RaftUsageError):
        raft.ready()


def test_advance_without_ready_is_refused() -> None:
    cluster = Cluster(3)
    with pytest.raises(RaftUsageError):
        cluster["n1"].advance(cluster["n2"].ready())


def test_a_message_for_another_node_is_refused() -> None:
    cluster = Cluster(3)
    with pytest.raises(MisaddressedMessageError):
        cluster["n1"].step(Heartbeat(NodeId("n2"), NodeId("n3"), Term(1), Index(0)))
    assert cluster["n1"].term == Term(0)


@pytest.mark.parametrize(
    "tunables",
    [{"heartbeat_tick": 0}, {"election_tick": 1, "heartbeat_tick": 1}, {"max_inflight": 0}],
)
def test_unworkable_tunables_are_refused(tunables: dict[str, int]) -> None:
    storage = InMemoryStorage(Configuration(frozenset(node_ids(1))))
    with pytest.raises(InvalidConfigError):
        Raft(RaftConfig(NodeId("n1"), **tunables), storage, random.Random(0))  # type: ignore[arg-type]


def test_a_single_node_commits_alone() -> None:
    cluster = Cluster(1)
    cluster.elect("n1")
    index = cluster.propose("n1", b"x=1")
    assert cluster["n1"].commit_index == index
    cluster["n1"].read_index(b"r")
    cluster.stabilize()
    assert cluster.nodes[NodeId("n1")].read_states[-1].index == index
