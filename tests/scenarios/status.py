"""What scenarios read of the nodes' status reports, and the check that a healed node disrupted nobody."""

from __future__ import annotations

from sealchain.client import TxStatus
from tests.integration.cluster import Cluster, Writer


def term_of(cluster: Cluster, name: str) -> int:
    """The Raft term `name` reports (it must answer)."""
    report = cluster.status(name)
    assert report is not None, f"{name} does not answer"
    return report.term


def terms(cluster: Cluster) -> dict[str, int]:
    """Every node's term, by name."""
    return {name: term_of(cluster, name) for name in cluster.names}


def rejoined_without_disruption(cluster: Cluster, old_primary: str, new_primary: str, new_term: int) -> None:
    """After a partition healed: a write through the old primary commits (it forwards to the primary it
    now follows), the new primary still leads, and no node has moved past `new_term`."""
    with cluster.client([old_primary]) as client:
        assert client.put("records", b"through", b"the old primary").status is TxStatus.COMMITTED
    assert cluster.primary() == new_primary
    assert terms(cluster) == dict.fromkeys(cluster.names, new_term)


def committed_load(cluster: Cluster, commits: int) -> Writer:
    """A writer run until `commits` of its writes are acknowledged Committed, then stopped."""
    writer = Writer(cluster)
    writer.start()
    try:
        writer.wait_for_commits(commits)
    finally:
        writer.finish()
    return writer
