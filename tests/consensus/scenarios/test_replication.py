"""Log replication: the Raft paper's figures 7 and 8, batching, pipelining, fast backtracking, and
CCF's committable entries."""

from __future__ import annotations

from consensus.messages import AppendEntries, AppendResponse
from consensus.quorum import committed_index
from consensus.raft import Raft, Role
from consensus.types import Index, NodeId, Term
from tests.consensus.harness import Cluster

# Raft figure 7: the leader's log for term 8, and followers (a)-(f) that miss or add entries.
FIGURE_7 = {
    "n1": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6],
    "n2": [1, 1, 1, 4, 4, 5, 5, 6, 6],  # (a) missing one entry
    "n3": [1, 1, 1, 4],  # (b) missing many
    "n4": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],  # (c) one extra entry of term 6
    "n5": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],  # (d) extra entries of term 7
    "n6": [1, 1, 1, 4, 4, 4, 4],  # (e) missing, with extra entries of term 4
    "n7": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],  # (f) a whole divergent history of terms 2 and 3
}


def test_figure_7_followers_with_missing_and_extra_entries_converge_on_the_leaders_log() -> None:
    cluster = Cluster(7)
    for node_id, terms in FIGURE_7.items():
        cluster.load_log(node_id, terms, term=7)
    cluster.elect("n1")
    assert cluster["n1"].term == Term(8)
    expected = [(i, t) for i, t in enumerate([*FIGURE_7["n1"], 8], start=1)]
    for node in cluster.nodes.values():
        assert node.log_terms() == expected
        assert node.node.commit_index == Index(11)
    # Fast backtracking: (f) diverged for 8 entries over two terms, but the conflict hints let the
    # leader skip whole terms instead of probing one entry per round trip.
    rejections = [
        m for m in cluster.delivered if isinstance(m, AppendResponse) and m.src == "n7" and m.reject
    ]
    assert 1 <= len(rejections) <= 2


class CommitsOldTermsByCounting(Raft):
    """Broken on purpose: ignores Raft 5.4.2 and commits entries of older terms by counting replicas."""

    def _maybe_commit(self) -> bool:
        match = {node: pr.match for node, pr in self.progress.items()}
        quorum_index = committed_index(self.log.configuration().voters, match)
        return self.log.commit_to(self.log.committable_at_or_before(quorum_index))


def figure_8(raft_class: type[Raft]) -> tuple[Cluster, Index]:
    """Raft figure 8 up to (d). Returns the cluster after S5 took over, and the commit index S1 had
    when it knew a majority held its term-2 entry."""
    cluster = Cluster(5, check_quorum=False, max_append_entries=1, raft_class=raft_class)
    cluster.load_log("n1", [1, 2], term=2)  # (a) S1 led term 2 and reached S2 only
    cluster.load_log("n2", [1, 2], term=2)
    cluster.load_log("n3", [1], term=2)
    cluster.load_log("n4", [1], term=2)
    cluster.load_log("n5", [1, 3], term=3)  # (b) S5 led term 3 alone
    cluster.partition(["n1", "n2", "n3"], ["n4", "n5"])
    cluster["n1"].campaign()  # (c) S1 leads term 4 and replicates its term-2 entry to S3 ...
    s1 = cluster["n1"]
    assert cluster.run_until(lambda: s1.role is Role.LEADER and s1.progress[NodeId("n3")].match >= 2)
    commit_then = s1.commit_index
    # ... and crashes before its term-4 entry reaches S3: S5 can win and overwrite index 2 (d).
    cluster.nodes[NodeId("n1")].crash()
    cluster.drop_in_flight()
    cluster.heal()
    cluster.elect("n5")
    return cluster, commit_then


def test_figure_8_an_entry_of_an_old_term_is_not_committed_by_counting_replicas() -> None:
    cluster, commit_then = figure_8(Raft)
    assert commit_then == Index(0), "index 2 was on S1, S2 and S3, but it is of an old term"
    for node_id in ("n3", "n4", "n5"):
        assert cluster.nodes[NodeId(node_id)].log_terms()[:2] == [(1, 1), (2, 3)]
    assert not any(b"n1@2.2" in node.state_machine.payloads for node in cluster.nodes.values())


def test_figure_8_counting_replicas_of_an_old_term_would_apply_two_entries_at_one_index() -> None:
    cluster, commit_then = figure_8(CommitsOldTermsByCounting)
    assert commit_then == Index(2)
    assert cluster.payloads("n1")[1] == b"n1@2.2"
    assert cluster.payloads("n5")[1] == b"n5@2.3", "state machine safety is lost"


def test_a_batch_travels_in_few_append_entries_and_several_are_in_flight_at_once() -> None:
    cluster = Cluster(3, max_append_entries=100, max_inflight=4)
    cluster.elect("n1")
    cluster.delivered.clear()
    for batch in range(6):
        cluster["n1"].propose([f"e{batch}.{i}".encode() for i in range(100)], committable=True)
        cluster.process(NodeId("n1"))
    in_flight_to_n2 = [m for m in cluster.in_flight if isinstance(m, AppendEntries) and m.dst == "n2"]
    assert len(in_flight_to_n2) == 4, "pipelining: the window of 4 is full, the rest waits"
    assert all(len(m.entries) == 100 for m in in_flight_to_n2)
    cluster.stabilize()
    assert cluster["n2"].commit_index == Index(601)
    assert len(cluster.payloads("n3")) == 600


def test_a_follower_answers_the_append_entries_it_took_in_one_go_with_one_acknowledgement() -> None:
    cluster = Cluster(3, max_append_entries=10, max_inflight=4)
    cluster.elect("n1")
    for batch in range(3):
        cluster["n1"].propose([f"e{batch}.{i}".encode() for i in range(10)], committable=True)
        cluster.process(NodeId("n1"))
    appends = [m for m in cluster.in_flight if isinstance(m, AppendEntries) and m.dst == "n2"]
    assert len(appends) == 3
    follower = cluster["n2"]
    # In order, then a stale repeat of the first: the one answer is the highest index held.
    for message in (*appends, appends[0]):
        follower.step(message)
    answers = [m for m in follower.ready().messages_after_persist if isinstance(m, AppendResponse)]
    assert len(answers) == 1
    assert (answers[0].dst, answers[0].index, answers[0].reject) == (
        "n1",
        appends[-1].entries[-1].index,
        False,
    )


def test_the_commit_index_only_lands_on_committable_entries() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    start = cluster["n1"].commit_index
    cluster.propose("n1", b"tx1", b"tx2", committable=False)
    cluster.tick(3)
    assert [cluster[n].commit_index for n in ("n1", "n2", "n3")] == [start] * 3
    assert cluster.payloads("n2") == []
    signature = cluster.propose("n1", b"tx3", b"signature", committable=True)
    cluster.tick(1)
    assert [cluster[n].commit_index for n in ("n1", "n2", "n3")] == [signature] * 3
    assert cluster.payloads("n3") == [b"tx1", b"tx2", b"tx3", b"signature"]


def test_a_new_leader_rolls_back_its_uncommittable_tail() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    committed = cluster.propose("n1", b"tx1", committable=True)
    cluster.propose("n1", b"tx2", b"tx3", committable=False)  # replicated, never committable
    assert cluster.nodes[NodeId("n2")].log_terms()[-1] == (committed + 2, 1)
    cluster.isolate("n1")
    cluster.tick(30, only=["n2", "n3"])
    (new_leader,) = [node for node in cluster.leaders() if node != "n1"]
    log = cluster.nodes[new_leader].log_terms()
    assert log[-1] == (committed + 1, cluster[new_leader].term), "tx2 and tx3 are gone, replaced"
    (other,) = {"n2", "n3"} - {new_leader}
    assert cluster.nodes[NodeId(other)].log_terms() == log, "and so they are on the follower"
    assert cluster.payloads("n2") == [b"tx1"]
