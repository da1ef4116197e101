"""kill -9 during load, again and again (DESIGN.md section 4.5: a node restarts from its own files).

While a writer keeps writing through a failing-over client, five nodes in turn are killed with SIGKILL
(the primary, then a follower, alternately) and restarted once the two others have committed more writes
without them. Every acknowledged write is on every node at the end, and the ledgers agree and verify.
(tests/integration/test_network.py kills the primary once; tests/integration/test_linearizability.py
kills it twice while checking linearizability.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.cluster import Cluster, Writer, read_everywhere

pytestmark = pytest.mark.slow

KILLS = 5
WRITES_BETWEEN_KILLS = 15


def test_nodes_killed_in_turn_under_load_lose_no_acknowledged_write(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(nodes=3)
    writer = Writer(cluster)
    writer.start()
    killed: list[str] = []
    try:
        writer.wait_for_commits(WRITES_BETWEEN_KILLS)
        for round_number in range(KILLS):
            primary = cluster.primary()
            victim = primary if round_number % 2 == 0 else next(n for n in cluster.names if n != primary)
            cluster.kill(victim)
            killed.append(victim)
            cluster.primary(among=[name for name in cluster.names if name != victim])
            writer.wait_for_more_commits(WRITES_BETWEEN_KILLS)
            cluster.restart(victim)
            cluster.wait_until(victim, "the restarted node to follow", lambda r: r.role == "follower")
            cluster.wait_commit_at_least(victim, writer.highest_seqno)
        writer.wait_for_more_commits(WRITES_BETWEEN_KILLS)
    finally:
        writer.finish()

    assert len(set(killed)) > 1, killed
    read_everywhere(cluster, writer.committed, writer.highest_seqno)
    cluster.stop()
    assert cluster.check_ledgers() >= writer.highest_seqno
