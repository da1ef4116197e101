"""Membership changes under load (governance's `remove_node`, passed by the member's proposal and vote):
a fourth node joins a running service, then a follower is removed, then the primary itself, while a
writer keeps writing through a failing-over client. The service commits throughout, no acknowledged write
is lost, every remaining node holds every acknowledged write, the removed nodes report Retired, and the
ledgers agree and verify.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from enclave.runtime import messages as m
from tests.integration.cluster import Cluster, Writer, read_everywhere

pytestmark = pytest.mark.slow


def is_retired(report: m.NodeStatusReport) -> bool:
    return report.state is m.LifecycleState.RETIRED


def test_a_node_joins_then_a_follower_and_the_primary_are_removed_under_load(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(nodes=3, spare_machines=1)
    writer = Writer(cluster)
    writer.start()
    try:
        writer.wait_for_commits(10)
        cluster.join("node3", cluster.join_address(cluster.primary()))
        cluster.trust("node3")
        cluster.wait_open("node3")
        writer.wait_for_more_commits(10)

        old_primary = cluster.primary()
        follower = next(name for name in ("node1", "node2", "node0") if name != old_primary)
        cluster.remove(follower)
        cluster.wait_until(follower, "the removed follower to be Retired", is_retired)
        writer.wait_for_more_commits(10)

        cluster.remove(old_primary)
        cluster.wait_until(old_primary, "the removed primary to be Retired", is_retired)
        remaining = [name for name in cluster.names if name not in (follower, old_primary)]
        new_primary = cluster.primary(among=remaining)
        writer.wait_for_more_commits(10)
    finally:
        writer.finish()

    assert new_primary not in (follower, old_primary)
    read_everywhere(cluster, writer.committed, writer.highest_seqno, remaining)
    for name in (follower, old_primary):
        report = cluster.status(name)
        assert report is not None and is_retired(report), (name, report)
    cluster.stop()
    assert cluster.check_ledgers() > 0
