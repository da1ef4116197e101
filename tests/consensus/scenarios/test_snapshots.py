"""Log compaction and snapshot install for a follower that fell too far behind (Raft 7)."""

from __future__ import annotations

from consensus.messages import InstallSnapshot
from consensus.types import NodeId
from tests.consensus.harness import Cluster


def test_a_lagging_follower_is_sent_the_snapshot_after_the_leader_compacted() -> None:
    cluster = Cluster(3)
    cluster.elect("n1")
    cluster.isolate("n3")
    for batch in range(5):
        cluster.propose("n1", *[f"tx{batch}.{i}".encode() for i in range(10)])
    leader = cluster.nodes[NodeId("n1")]
    leader.compact()
    assert leader.storage.first_index() > cluster["n3"].log.last_index() + 1
    cluster.heal()
    cluster.tick(3)
    assert any(isinstance(m, InstallSnapshot) and m.dst == "n3" for m in cluster.delivered)
    lagging = cluster.nodes[NodeId("n3")]
    assert lagging.storage.snapshot().index == leader.storage.snapshot().index
    assert cluster.payloads("n3") == cluster.payloads("n1")
    index = cluster.propose("n1", b"after the snapshot")
    assert cluster["n3"].commit_index == index
    lagging.crash()
    lagging.restart()
    assert cluster["n3"].log.first_index() == leader.storage.first_index(), "the snapshot is durable"
